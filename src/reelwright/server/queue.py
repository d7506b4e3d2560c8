"""The durable job queue: jobs live in SQLite, a bounded number run at once, each in its own worker process.

Closing a browser stops nothing (the queue belongs to the server). Killing the server stops its workers with it
(they die with their parent); the next server start finds their jobs in progress under a dead owner and queues them
again, and the worker finishes each through its run folder, reusing every accepted clip.

A `launcher` (`ray_jobs.launch` under `serve --jobs-on-cluster`) starts each worker somewhere else instead, and
returns a handle with the Popen methods the queue uses (poll, wait, send_signal)."""

from __future__ import annotations

import ctypes
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from ..errors import ConflictError, NotFoundError, QueueFullError
from ..runs.crash import pid_alive
from .db import TERMINAL, Database, Job

HEARTBEAT_S = 5.0
STALE_S = 30.0  # an owner that has not beaten for this long is gone, even if its pid was reused
KILL_AFTER_S = 5.0  # a worker that ignores SIGTERM this long is killed


@dataclass
class _Running:
    job_id: str
    proc: Any  # a subprocess.Popen, or the launcher's handle
    log: object | None
    kill_at: float | None = None


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Linux: the worker gets SIGKILL when the server dies, so no orphan keeps rendering (and spending)."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass


class JobQueue:
    def __init__(self, db: Database, *, max_workers: int = 1, max_queued: int = 100, logs_dir: Path | None = None,
                 worker_env: dict[str, str] | None = None, launcher: Callable[..., Any] | None = None):
        if max_workers < 1:
            raise ValueError("max_workers must be at least 1")
        self.db = db
        self.max_workers = max_workers
        self.max_queued = max_queued
        self.logs_dir = logs_dir or db.path.parent / "logs"
        self.worker_env = dict(worker_env or {})  # added to each worker's environment (the executor, the cluster)
        self.launcher = launcher  # launcher(db_path, job_id, log_path, env) -> handle; None: a local process
        self.owner = f"{os.getpid()}:{secrets.token_hex(4)}"
        self._running: dict[str, _Running] = {}
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        self.recover()
        self._stop.clear()
        # Workers are started from this one long-lived thread: PDEATHSIG fires when the *thread* that forked dies.
        self._thread = threading.Thread(target=self._loop, name="reelwright-queue", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the workers and put their jobs back in the queue: the next start finishes them."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None

    def recover(self) -> list[str]:
        """Queue again the jobs whose server is gone; return their ids."""
        requeued = []
        for job in self.db.running():
            if job.owner == self.owner or _owner_alive(job):
                continue
            _kill_orphan(job)
            if job.cancel_requested:
                self.db.update_job(job.id, status="cancelled", completed_at=time.time(), owner=None, pid=None)
            else:
                self.db.update_job(job.id, status="queued", owner=None, pid=None)
                requeued.append(job.id)
        if requeued:
            self._wake.set()
        return requeued

    # ------------------------------------------------------------------ requests
    def submit(self, job: Job) -> Job:
        return self.submit_many([job])[0]

    def submit_many(self, jobs: list[Job]) -> list[Job]:
        """Admit every job or none (a batch is one decision)."""
        if not self.db.insert_jobs(jobs, max_waiting=self.max_queued):
            raise QueueFullError(f"the queue is full ({self.max_queued} jobs waiting); try again when some have run")
        self._wake.set()
        return jobs

    def cancel(self, job_id: str) -> Job:
        job = self.db.get_job(job_id)
        if job is None:
            raise NotFoundError(f"no job {job_id!r}")
        if job.status in TERMINAL:
            if job.status == "cancelled":
                return job
            raise ConflictError(f"job {job_id} is already {job.status}")
        with self.db.transaction() as c:
            c.execute("UPDATE jobs SET status='cancelled', completed_at=? WHERE id=? AND status='queued'",
                      (time.time(), job_id))
            c.execute("UPDATE jobs SET cancel_requested=1 WHERE id=? AND status='in_progress'", (job_id,))
        self._signal_cancel(job_id)
        self._wake.set()
        return self.db.get_job(job_id)  # type: ignore[return-value]

    def requeue(self, job_id: str) -> Job:
        """Run a cancelled or failed job again; its run folder keeps every accepted clip."""
        job = self.db.get_job(job_id)
        if job is None:
            raise NotFoundError(f"no job {job_id!r}")
        if job.status not in ("cancelled", "failed"):
            raise ConflictError(f"job {job_id} is {job.status}; only a cancelled or failed job can be resumed")
        with self.db.transaction() as c:
            waiting = c.execute("SELECT COUNT(*) FROM jobs WHERE status='queued'").fetchone()[0]
            if waiting >= self.max_queued:
                raise QueueFullError(f"the queue is full ({self.max_queued} jobs waiting); try again later")
            c.execute("UPDATE jobs SET status='queued', error=NULL, error_code=NULL, completed_at=NULL, "
                      "cancel_requested=0 WHERE id=?", (job_id,))
        self._wake.set()
        return self.db.get_job(job_id)  # type: ignore[return-value]

    def running_ids(self) -> list[str]:
        with self._lock:
            return list(self._running)

    # ------------------------------------------------------------------ the loop
    def _loop(self) -> None:
        last_beat = last_recover = 0.0
        while not self._stop.is_set():
            now = time.monotonic()
            self._reap()
            self._honour_cancels()
            if now - last_beat >= HEARTBEAT_S:
                self.db.heartbeat(self.owner)
                last_beat = now
            if now - last_recover >= STALE_S:
                self.recover()
                last_recover = now
            while len(self._running) < self.max_workers:
                job = self.db.claim_next(self.owner)
                if job is None:
                    break
                self._spawn(job)
            self._wake.wait(timeout=0.25)
            self._wake.clear()
        self._shutdown_workers()

    def _spawn(self, job: Job) -> None:
        self.logs_dir.mkdir(parents=True, exist_ok=True)
        if self.launcher is not None:
            try:
                handle = self.launcher(self.db.path, job.id, self.logs_dir / f"{job.id}.log", dict(self.worker_env))
            except Exception as exc:  # noqa: BLE001 - the cluster refused it: the job fails with one line
                self.db.update_job(job.id, status="failed", error=f"cannot start a worker: {exc}",
                                   error_code="internal_error", completed_at=time.time())
                return
            self.db.update_job(job.id, pid=None)
            with self._lock:
                self._running[job.id] = _Running(job.id, handle, None)
            return
        log = open(self.logs_dir / f"{job.id}.log", "ab")
        argv = [sys.executable, "-m", "reelwright.server.worker", str(self.db.path), job.id]
        kwargs = {"preexec_fn": _die_with_parent} if sys.platform.startswith("linux") else {}
        try:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                    start_new_session=True, env={**os.environ, **self.worker_env}, **kwargs)
        except OSError as exc:
            log.close()
            self.db.update_job(job.id, status="failed", error=f"cannot start a worker: {exc}",
                               error_code="internal_error", completed_at=time.time())
            return
        self.db.update_job(job.id, pid=proc.pid)
        with self._lock:
            self._running[job.id] = _Running(job.id, proc, log)

    def _reap(self) -> None:
        with self._lock:
            items = list(self._running.items())
        for job_id, r in items:
            code = r.proc.poll()
            if code is None:
                if r.kill_at is not None and time.monotonic() >= r.kill_at:
                    _send(r.proc, signal.SIGKILL)
                continue
            if r.log is not None:
                r.log.close()  # type: ignore[attr-defined]
            with self._lock:
                self._running.pop(job_id, None)
            job = self.db.get_job(job_id)
            if job is None or job.status in TERMINAL:
                continue
            if job.cancel_requested:
                self.db.update_job(job_id, status="cancelled", completed_at=time.time(), pid=None)
            elif self._stop.is_set():
                self.db.update_job(job_id, status="queued", owner=None, pid=None)
            else:
                self.db.update_job(job_id, status="failed", error=f"the worker stopped unexpectedly (exit {code}); "
                                   "resume the job to continue from its accepted clips",
                                   error_code="internal_error", completed_at=time.time(), pid=None)

    def _honour_cancels(self) -> None:
        for job_id in self.running_ids():
            job = self.db.get_job(job_id)
            if job is not None and job.cancel_requested:
                self._signal_cancel(job_id)

    def _signal_cancel(self, job_id: str) -> None:
        with self._lock:
            r = self._running.get(job_id)
        if r is None or r.kill_at is not None:
            return
        _send(r.proc, signal.SIGTERM)
        r.kill_at = time.monotonic() + KILL_AFTER_S

    def _shutdown_workers(self) -> None:
        with self._lock:
            items = list(self._running.values())
        for r in items:
            _send(r.proc, signal.SIGTERM)
        deadline = time.monotonic() + KILL_AFTER_S
        for r in items:
            try:
                r.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _send(r.proc, signal.SIGKILL)
                r.proc.wait()
        self._reap()


def _send(proc: Any, sig: int) -> None:
    """Signal a local worker's process group, or pass the signal to a launcher's handle."""
    if isinstance(proc, subprocess.Popen):
        _killpg(proc.pid, sig)
    else:
        proc.send_signal(sig)


def _killpg(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _owner_alive(job: Job) -> bool:
    if not job.owner:
        return False
    try:
        pid = int(job.owner.split(":", 1)[0])
    except ValueError:
        return False
    fresh = job.heartbeat is not None and time.time() - job.heartbeat < STALE_S
    return fresh and pid_alive(pid)


def _kill_orphan(job: Job) -> None:
    """A worker whose server died without taking it along (no PDEATHSIG off Linux) must not keep spending."""
    if not job.pid or not pid_alive(job.pid):
        return
    try:
        cmdline = Path(f"/proc/{job.pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return
    if b"reelwright.server.worker" in cmdline and job.id.encode() in cmdline:
        _killpg(job.pid, signal.SIGKILL)
