"""The clip cache: accepted clips kept across runs under `REELWRIGHT_HOME/cache/clips/`, addressed by a key
that hashes everything deciding the clip's pixels, so an identical request is never paid for twice.

Files are named by their key and indexed in the run database (size, cost saved, last use) so `reelwright
cache` can report and prune without walking the folder. A file is the truth: an index row whose file is gone
is a miss, and a file the index lost is found again by its name."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import sqlite3
import tempfile
import time
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from .db import connect

_KEY = re.compile(r"^[0-9a-f]{16,64}$")  # keys are hex digests: never a path, whatever a plan file holds


def cache_dir() -> Path:
    from ..config import home

    return home() / "cache" / "clips"


def file_digest(path: Path, chunk: int = 1 << 20) -> str:
    """sha256 of a file's bytes, read in chunks (a reference image or a video being extended)."""
    h = hashlib.sha256()
    with Path(path).open("rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def cache_key(fingerprint: str, **inputs: Any) -> str:
    """The cache key: the run's clip fingerprint plus what a path cannot tell across runs (the bytes of the
    reference images, the clip a continuing shot picks up from, the backend's options)."""
    blob = repr((fingerprint, sorted((k, repr(v)) for k, v in inputs.items()))).encode("utf-8")
    return hashlib.sha256(blob).hexdigest()[:32]


class CacheEntry(BaseModel):
    key: str
    file: str
    bytes: int
    cost_usd: float | None = None
    generator: str | None = None
    model: str | None = None
    seconds: float | None = None
    created: float | None = None
    last_used: float | None = None
    hits: int = 0


class CacheStats(BaseModel):
    folder: str
    clips: int
    bytes: int
    saved_usd: float  # what the hits would have cost to generate again


class ClipCache:
    def __init__(self, root: Path | None = None, db: Path | None = None):
        self.root = Path(root) if root is not None else cache_dir()
        self._db = db
        self._conn: sqlite3.Connection | None = None

    @property
    def conn(self) -> sqlite3.Connection:
        if self._conn is None:
            self._conn = connect(self._db)
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def path_for(self, key: str) -> Path:
        if not _KEY.match(key):
            raise ValueError(f"not a cache key: {key!r}")
        return self.root / key[:2] / f"{key}.mp4"

    def get(self, key: str, dest: Path) -> CacheEntry | None:
        """Place the cached clip for `key` at `dest` (a hard link where the file system allows, else a copy)
        and return its entry, or None on a miss."""
        src = self.path_for(key)
        if not src.is_file():
            return None
        _place(src, dest)
        now = time.time()
        with self.conn:
            self.conn.execute(
                "INSERT INTO clip_cache (key, file, bytes, created, last_used, hits) VALUES (?, ?, ?, ?, ?, 1) "
                "ON CONFLICT(key) DO UPDATE SET last_used=excluded.last_used, hits=hits+1",
                (key, str(src), src.stat().st_size, now, now))
        row = self.conn.execute("SELECT * FROM clip_cache WHERE key=?", (key,)).fetchone()
        return _entry(self.conn, row)

    def put(self, key: str, clip: Path, *, cost_usd: float, generator: str | None, model: str | None,
            seconds: float | None) -> Path:
        """Keep an accepted clip. The first writer wins: a clip already cached under the key is kept."""
        dest = self.path_for(key)
        if not dest.is_file():
            _place(clip, dest)
        now = time.time()
        with self.conn:
            self.conn.execute(
                "INSERT INTO clip_cache (key, file, bytes, cost_usd, generator, model, seconds, created, last_used) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(key) DO NOTHING",
                (key, str(dest), dest.stat().st_size, cost_usd, generator, model, seconds, now, now))
        return dest

    def entries(self) -> list[CacheEntry]:
        self._adopt_files()
        rows = self.conn.execute("SELECT * FROM clip_cache ORDER BY last_used DESC").fetchall()
        return [e for r in rows if (e := _entry(self.conn, r)) is not None]

    def stats(self) -> CacheStats:
        entries = self.entries()
        return CacheStats(folder=str(self.root), clips=len(entries), bytes=sum(e.bytes for e in entries),
                          saved_usd=round(sum((e.cost_usd or 0.0) * e.hits for e in entries), 6))

    def prune(self, *, max_bytes: int | None = None, older_than_s: float | None = None) -> tuple[int, int]:
        """Remove clips unused for `older_than_s`, then the least recently used until the cache fits
        `max_bytes` (0 empties it). Returns (clips removed, bytes freed)."""
        entries = sorted(self.entries(), key=lambda e: e.last_used or 0.0)
        now = time.time()
        total = sum(e.bytes for e in entries)
        removed = freed = 0
        for e in entries:
            stale = older_than_s is not None and (now - (e.last_used or 0.0)) > older_than_s
            over = max_bytes is not None and total > max_bytes
            if not (stale or over):
                continue
            Path(e.file).unlink(missing_ok=True)
            with self.conn:
                self.conn.execute("DELETE FROM clip_cache WHERE key=?", (e.key,))
            total -= e.bytes
            removed += 1
            freed += e.bytes
        return removed, freed

    def _adopt_files(self) -> None:
        """Index files whose rows were lost (a rebuilt or deleted database), and drop rows whose file is gone."""
        known = {r[0] for r in self.conn.execute("SELECT key FROM clip_cache").fetchall()}
        with self.conn:
            for f in self.root.glob("??/*.mp4") if self.root.is_dir() else ():
                if f.stem not in known and _KEY.match(f.stem):
                    st = f.stat()
                    self.conn.execute("INSERT OR IGNORE INTO clip_cache (key, file, bytes, created, last_used) "
                                      "VALUES (?, ?, ?, ?, ?)", (f.stem, str(f), st.st_size, st.st_mtime, st.st_mtime))
            for key, file in self.conn.execute("SELECT key, file FROM clip_cache").fetchall():
                if not Path(file).is_file():
                    self.conn.execute("DELETE FROM clip_cache WHERE key=?", (key,))


def _entry(conn: sqlite3.Connection, row: tuple | None) -> CacheEntry | None:
    if row is None:
        return None
    cols = [d[1] for d in conn.execute("PRAGMA table_info(clip_cache)").fetchall()]
    return CacheEntry(**dict(zip(cols, row)))


def _place(src: Path, dest: Path) -> None:
    """Put `src` at `dest` atomically: a unique temp name beside it, then a rename."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    os.close(fd)
    try:
        os.unlink(tmp)
        try:
            os.link(src, tmp)  # same file system: no copy, and cached bytes never change (files are replaced, not edited)
        except OSError:
            shutil.copyfile(src, tmp)
        os.replace(tmp, dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
