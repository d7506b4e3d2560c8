"""The one SQLite database in REELWRIGHT_HOME (`reelwright.db`): opening it and migrating its schema.

Every concern that keeps tables there (the run index, the clip cache, the studio's job queue) adds its
migrations to `MIGRATIONS`, in order; `schema_version` records how far a database has come, so an older
database is brought forward on open and a newer one is refused rather than misread."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from ..errors import ConfigError

DB_NAME = "reelwright.db"

# Append only: a released step is never edited, because databases in the field have already applied it.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE runs (
        id TEXT PRIMARY KEY, folder TEXT NOT NULL, request TEXT, generator TEXT, model TEXT, llm TEXT,
        status TEXT, duration_s REAL, output TEXT, created REAL, updated REAL);
    CREATE TABLE shots (
        run_id TEXT NOT NULL, shot_id TEXT NOT NULL, idx INTEGER, beat TEXT, frames INTEGER, status TEXT,
        PRIMARY KEY (run_id, shot_id));
    CREATE TABLE takes (
        id INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT NOT NULL, shot_id TEXT NOT NULL, attempt INTEGER,
        started REAL NOT NULL, status TEXT, cost_usd REAL, elapsed_s REAL, reason TEXT,
        UNIQUE (run_id, shot_id, started));
    CREATE TABLE clips (
        run_id TEXT NOT NULL, fingerprint TEXT NOT NULL, shot_id TEXT, path TEXT, attempts INTEGER,
        cost_usd REAL, seconds REAL, job_id TEXT, source TEXT, PRIMARY KEY (run_id, fingerprint));
    CREATE TABLE costs (
        id INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT NOT NULL, ts REAL, day TEXT, kind TEXT,
        backend TEXT, model TEXT, shot_id TEXT, usd REAL NOT NULL, ref TEXT NOT NULL UNIQUE);
    CREATE INDEX costs_by_run ON costs (run_id);
    CREATE INDEX takes_by_run ON takes (run_id, shot_id);
    """,
    """
    CREATE TABLE clip_cache (
        key TEXT PRIMARY KEY, file TEXT NOT NULL, bytes INTEGER NOT NULL, cost_usd REAL, generator TEXT,
        model TEXT, seconds REAL, created REAL, last_used REAL, hits INTEGER NOT NULL DEFAULT 0);
    """,
    # 3: the studio's job queue and uploads (server/db.py reads and writes them)
    """
    CREATE TABLE jobs (
        id TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        status TEXT NOT NULL,
        spec TEXT NOT NULL,               -- the job's JSON spec (what the worker runs)
        run_dir TEXT,                     -- the run folder, once there is one
        model TEXT NOT NULL DEFAULT 'reelwright',
        prompt TEXT NOT NULL DEFAULT '',
        seconds TEXT NOT NULL DEFAULT '',
        size TEXT NOT NULL DEFAULT '',
        source_id TEXT,                   -- the job this one edits, extends, remixes or regenerates
        batch_id TEXT,
        error TEXT,
        error_code TEXT,
        progress REAL NOT NULL DEFAULT 0,
        created_at REAL NOT NULL,
        started_at REAL,
        completed_at REAL,
        owner TEXT,                       -- 'pid:token' of the server process running it
        heartbeat REAL,
        pid INTEGER,                      -- the worker process
        attempts INTEGER NOT NULL DEFAULT 0,
        cancel_requested INTEGER NOT NULL DEFAULT 0,
        deleted INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX jobs_by_status ON jobs(status, created_at);
    CREATE INDEX jobs_by_created ON jobs(created_at);
    CREATE TABLE uploads (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,               -- the name the person gave (a label only; never a path)
        kind TEXT NOT NULL,               -- image, audio, video
        mime TEXT NOT NULL,
        path TEXT NOT NULL,               -- generated, under uploads/
        bytes INTEGER NOT NULL,
        created_at REAL NOT NULL
    );
    """,
)


def statements(sql: str) -> list[str]:
    """Split a migration into statements (executescript would commit mid-transaction; a naive split on ';'
    would cut a comment or a string)."""
    out, buf = [], ""
    for line in sql.splitlines(keepends=True):
        buf += line
        if sqlite3.complete_statement(buf):
            out.append(buf.strip())
            buf = ""
    if buf.strip():
        out.append(buf.strip())
    return out


def db_path() -> Path:
    from ..config import home

    return home() / DB_NAME


def connect(path: Path | None = None) -> sqlite3.Connection:
    """An open, migrated connection. WAL so a `reelwright runs` reads while a make writes; a busy timeout
    because several processes (makes, the studio) write the same file."""
    path = Path(path) if path is not None else db_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(str(path), timeout=30, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA busy_timeout=30000")
        # An index, rebuildable from the run folders: a power cut may lose its last rows, never corrupt it.
        conn.execute("PRAGMA synchronous=NORMAL")
        migrate(conn, path)
    except sqlite3.DatabaseError as exc:
        raise ConfigError(f"the run database {path} cannot be used: {exc}; move it away and run "
                          "`reelwright runs --rebuild`") from exc
    except OSError as exc:
        raise ConfigError(f"cannot open the run database {path}: {exc.strerror or exc}") from exc
    if os.name == "posix":
        try:
            path.chmod(0o600)  # it holds requests and output paths: the user's business only
        except OSError:
            pass
    return conn


def schema_version(conn: sqlite3.Connection) -> int:
    conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
    row = conn.execute("SELECT MAX(version) FROM schema_version").fetchone()
    return int(row[0] or 0)


def migrate(conn: sqlite3.Connection, path: Path | str = "") -> int:
    """Apply the steps this database has not seen, each in one transaction; returns the new version."""
    conn.execute("BEGIN IMMEDIATE")  # one migrator at a time when two processes open a fresh file
    try:
        have = schema_version(conn)
        if have > len(MIGRATIONS):
            raise ConfigError(f"the run database {path} is from a newer reelwright (schema {have}, this one knows "
                              f"{len(MIGRATIONS)}); upgrade reelwright")
        for version, script in enumerate(MIGRATIONS[have:], start=have + 1):
            for statement in statements(script):
                conn.execute(statement)
            conn.execute("INSERT INTO schema_version (version) VALUES (?)", (version,))
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return len(MIGRATIONS)
