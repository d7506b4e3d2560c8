"""The studio's view of reelwright's one SQLite database (`reelwright.db` in REELWRIGHT_HOME, `runs/db.py`): the
job queue and the uploads. Its tables are migration 3 of the run store's list; a migration is applied once, in
order, inside one transaction, and `schema_version` records how far a database has come."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from ..runs import db as run_db

JobStatus = Literal["queued", "in_progress", "completed", "failed", "cancelled"]
JobKind = Literal["make", "edit", "extend", "regenerate"]
TERMINAL: tuple[str, ...] = ("completed", "failed", "cancelled")

# One database for the whole of reelwright (`runs/db.py`): the run index, the clip cache and these tables share
# one `schema_version`, so the studio's migrations are numbered in the run store's one append-only list.
MIGRATIONS: list[tuple[int, str]] = [(n, sql) for n, sql in enumerate(run_db.MIGRATIONS, start=1)]


class Job(BaseModel):
    id: str
    kind: JobKind
    status: JobStatus
    spec: dict[str, Any] = Field(default_factory=dict)
    run_dir: str | None = None
    model: str = "reelwright"
    prompt: str = ""
    seconds: str = ""
    size: str = ""
    source_id: str | None = None
    batch_id: str | None = None
    error: str | None = None
    error_code: str | None = None
    progress: float = 0.0
    created_at: float
    started_at: float | None = None
    completed_at: float | None = None
    owner: str | None = None
    heartbeat: float | None = None
    pid: int | None = None
    attempts: int = 0
    cancel_requested: bool = False
    deleted: bool = False


class Upload(BaseModel):
    id: str
    name: str
    kind: str
    mime: str
    path: str
    bytes: int
    created_at: float


class Database:
    """One connection per process, serialised by a lock: the queue's writes are few and small, and WAL lets
    worker processes write beside the server."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._conn = sqlite3.connect(str(self.path), check_same_thread=False, timeout=30, isolation_level=None)
        self._conn.row_factory = sqlite3.Row
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA busy_timeout=30000")
        self.migrate()

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def migrate(self) -> int:
        """Apply every migration newer than the database; return the version reached."""
        with self.transaction() as c:
            c.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            row = c.execute("SELECT MAX(version) FROM schema_version").fetchone()
            current = row[0] or 0
            for version, sql in MIGRATIONS:
                if version > current:
                    for statement in run_db.statements(sql):
                        c.execute(statement)
                    c.execute("INSERT INTO schema_version (version) VALUES (?)", (version,))
                    current = version
        return current

    def version(self) -> int:
        with self._lock:
            return self._conn.execute("SELECT MAX(version) FROM schema_version").fetchone()[0] or 0

    # ------------------------------------------------------------------ jobs
    def insert_job(self, job: Job) -> None:
        row = _job_row(job)
        cols = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        with self.transaction() as c:
            c.execute(f"INSERT INTO jobs ({cols}) VALUES ({marks})", tuple(row.values()))

    def insert_jobs(self, jobs: list[Job], *, max_waiting: int | None = None) -> bool:
        """Insert all or none; with `max_waiting`, only if the queued jobs stay within it."""
        with self.transaction() as c:
            if max_waiting is not None:
                waiting = c.execute("SELECT COUNT(*) FROM jobs WHERE status='queued'").fetchone()[0]
                if waiting + len(jobs) > max_waiting:
                    return False
            for job in jobs:
                row = _job_row(job)
                c.execute(f"INSERT INTO jobs ({', '.join(row)}) VALUES ({', '.join('?' for _ in row)})",
                          tuple(row.values()))
        return True

    def get_job(self, job_id: str) -> Job | None:
        with self._lock:
            row = self._conn.execute("SELECT * FROM jobs WHERE id=? AND deleted=0", (job_id,)).fetchone()
        return _job(row) if row else None

    def list_jobs(self, *, limit: int = 20, after: str | None = None, order: str = "desc",
                  status: str | None = None, batch_id: str | None = None) -> list[Job]:
        desc = order != "asc"
        where, args = ["deleted=0"], []
        if after:
            anchor = self.get_job(after)
            if anchor is not None:
                where.append("(created_at, id) < (?, ?)" if desc else "(created_at, id) > (?, ?)")
                args += [anchor.created_at, anchor.id]
        if status:
            where.append("status=?")
            args.append(status)
        if batch_id:
            where.append("batch_id=?")
            args.append(batch_id)
        direction = "DESC" if desc else "ASC"
        sql = (f"SELECT * FROM jobs WHERE {' AND '.join(where)} ORDER BY created_at {direction}, id {direction} "
               "LIMIT ?")
        with self._lock:
            rows = self._conn.execute(sql, (*args, limit)).fetchall()
        return [_job(r) for r in rows]

    def count(self, status: str) -> int:
        with self._lock:
            return self._conn.execute("SELECT COUNT(*) FROM jobs WHERE status=?", (status,)).fetchone()[0]

    def update_job(self, job_id: str, **fields: Any) -> None:
        if not fields:
            return
        row = {k: (json.dumps(v) if k == "spec" else v) for k, v in fields.items()}
        sets = ", ".join(f"{k}=?" for k in row)
        with self.transaction() as c:
            c.execute(f"UPDATE jobs SET {sets} WHERE id=?", (*row.values(), job_id))

    def claim_next(self, owner: str) -> Job | None:
        """Take the oldest queued job for `owner`, atomically: two servers never run one job."""
        with self.transaction() as c:
            row = c.execute("SELECT id FROM jobs WHERE status='queued' AND deleted=0 "
                            "ORDER BY created_at, id LIMIT 1").fetchone()
            if row is None:
                return None
            now = time.time()
            c.execute("UPDATE jobs SET status='in_progress', owner=?, heartbeat=?, started_at=COALESCE(started_at, ?), "
                      "attempts=attempts+1, cancel_requested=0 WHERE id=?", (owner, now, now, row[0]))
        return self.get_job(row[0])

    def running(self) -> list[Job]:
        with self._lock:
            rows = self._conn.execute("SELECT * FROM jobs WHERE status='in_progress'").fetchall()
        return [_job(r) for r in rows]

    def heartbeat(self, owner: str) -> None:
        with self.transaction() as c:
            c.execute("UPDATE jobs SET heartbeat=? WHERE owner=? AND status='in_progress'", (time.time(), owner))

    # ------------------------------------------------------------------ uploads
    def insert_upload(self, up: Upload) -> None:
        with self.transaction() as c:
            c.execute("INSERT INTO uploads (id, name, kind, mime, path, bytes, created_at) VALUES (?,?,?,?,?,?,?)",
                      (up.id, up.name, up.kind, up.mime, up.path, up.bytes, up.created_at))

    def get_upload(self, upload_id: str) -> Upload | None:
        with self._lock:
            row = self._conn.execute("SELECT * FROM uploads WHERE id=?", (upload_id,)).fetchone()
        return Upload(**dict(row)) if row else None


def _job_row(job: Job) -> dict[str, Any]:
    row = job.model_dump()
    row["spec"] = json.dumps(job.spec)
    row["cancel_requested"] = int(job.cancel_requested)
    row["deleted"] = int(job.deleted)
    return row


def _job(row: sqlite3.Row) -> Job:
    data = dict(row)
    data["spec"] = json.loads(data["spec"] or "{}")
    data["cancel_requested"] = bool(data["cancel_requested"])
    data["deleted"] = bool(data["deleted"])
    return Job(**data)
