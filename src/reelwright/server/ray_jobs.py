"""Whole studio jobs as Ray tasks: `reelwright serve --executor ray --jobs-on-cluster`.

The queue claims a job as always; instead of starting the job's worker process on the server machine it calls
`launch`, which submits one Ray task (one CPU, placed by Ray on any node). The task starts the same worker,
`python -m reelwright.server.worker DB JOB_ID`, as its child on that node (the child dies with the Ray worker:
PDEATHSIG) and returns its exit code. `RayJob` gives the queue what it uses of a `Popen`: `poll()`, `wait()`
and `send_signal()` — SIGTERM interrupts the task, which stops its worker as the local queue would (SIGTERM,
then SIGKILL); SIGKILL is `ray.cancel(force=True)`, which kills the Ray worker and the child with it. Either
way the run folder keeps every accepted clip, so the job is resumable.

The database and the runs folder must be on a filesystem every node sees at the same path; the run folder's
lock (`runs.lock`) keeps one writer per run. Provider keys are never sent: each node's worker uses its own
environment, plus the executor, the cluster address and reelwright's path settings."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from .queue import KILL_AFTER_S, _die_with_parent, _killpg

TASK_ENV = "REELWRIGHT_RAY_TASK_ID"  # set for the worker: the Ray task that runs it, and its node
NODE_ENV = "REELWRIGHT_RAY_NODE_ID"
PASSED_ENV = ("REELWRIGHT_HOME", "REELWRIGHT_RUNS_DIR", "REELWRIGHT_CONFIG")  # paths, never keys
_task: Any = None  # the remote function, made once


def run_worker(args: list[str], env: dict[str, str], log_path: str, cwd: str | None, kill_after: float) -> int:
    """The Ray task's body, on whichever node Ray placed it: run the job's worker to its end."""
    import ray

    ctx = ray.get_runtime_context()
    env = {**os.environ, **env, TASK_ENV: ctx.get_task_id() or "", NODE_ENV: ctx.get_node_id() or ""}
    try:
        Path(log_path).parent.mkdir(parents=True, exist_ok=True)
        log = open(log_path, "ab")
    except OSError:  # a node that does not see the server's logs folder still runs the job
        log = open(os.devnull, "wb")
    kwargs = {"preexec_fn": _die_with_parent} if sys.platform.startswith("linux") else {}
    with log:
        proc = subprocess.Popen([sys.executable, "-m", "reelwright.server.worker", *args], stdin=subprocess.DEVNULL,
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True, env=env,
                                cwd=cwd if cwd and os.path.isdir(cwd) else None, **kwargs)
        try:
            while (code := proc.poll()) is None:
                time.sleep(0.1)
            return code
        except KeyboardInterrupt:  # ray.cancel without force: stop the worker as the local queue does
            _killpg(proc.pid, signal.SIGTERM)
            try:
                return proc.wait(timeout=kill_after)
            except subprocess.TimeoutExpired:
                _killpg(proc.pid, signal.SIGKILL)
                return proc.wait()


class RayJob:
    """The Popen-like handle the queue keeps for a job running as a Ray task."""

    pid = None  # the worker's pid means nothing on the server: the worker records its task, node and pid

    def __init__(self, ref: Any):
        self.ref = ref
        self.task_id = ref.task_id().hex()
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is not None:
            return self.returncode
        import ray

        ready, _ = ray.wait([self.ref], timeout=0)
        if not ready:
            return None
        try:
            self.returncode = int(ray.get(self.ref))
        except ray.exceptions.TaskCancelledError:
            self.returncode = -signal.SIGTERM
        except ray.exceptions.RayError:  # killed (force cancel), its worker or its node died
            self.returncode = -signal.SIGKILL
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while (code := self.poll()) is None:
            if deadline is not None and time.monotonic() >= deadline:
                raise subprocess.TimeoutExpired(f"ray task {self.task_id}", timeout or 0)
            time.sleep(0.05)
        return code

    def send_signal(self, sig: int) -> None:
        import ray

        if self.poll() is not None:
            return
        try:
            ray.cancel(self.ref, force=sig == signal.SIGKILL)
        except Exception:  # noqa: BLE001 - it ended meanwhile: nothing to stop
            pass


def launch(db_path: Path, job_id: str, log_path: Path, env: dict[str, str]) -> RayJob:
    """Submit job `job_id` as a Ray task (this process must have joined the cluster)."""
    import ray

    global _task
    if _task is None:
        _task = ray.remote(num_cpus=1, max_retries=0)(run_worker)  # no retry by Ray: a resume is the user's
    passed = {k: os.environ[k] for k in PASSED_ENV if os.environ.get(k)}
    ref = _task.options(name=f"reelwright-job-{job_id}").remote(
        [str(Path(db_path).resolve()), job_id], {**passed, **env}, str(Path(log_path).resolve()), os.getcwd(),
        KILL_AFTER_S)
    return RayJob(ref)


def placement() -> dict[str, Any]:
    """In the worker: where it runs when it is a Ray task ({} when it is a local process) — for the job's spec."""
    task = os.environ.get(TASK_ENV)
    if not task:
        return {}
    ppid = os.getppid()
    try:
        parent = Path(f"/proc/{ppid}/cmdline").read_bytes().split(b"\0")[0].decode(errors="replace")[:200]
    except OSError:
        parent = ""
    import socket

    return {"ran_on": {"ray_task_id": task, "ray_node_id": os.environ.get(NODE_ENV, ""),
                       "host": socket.gethostname(), "pid": os.getpid(), "parent_pid": ppid, "parent": parent}}
