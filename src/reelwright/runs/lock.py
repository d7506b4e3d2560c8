"""One writer per run folder. make, resume, edit and extend (and the studio's workers, which call them) hold
an exclusive advisory lock — `fcntl.flock` on `RUN/.lock` — for the life of the operation, so two
processes never both spend on one run or both write its state.json. The kernel drops the lock when the
holder's file is closed or the process dies (kill -9 included), so a lock is never stale; the pid written
into the file only names the holder in the message a second writer gets.

The lock is re-entrant within one thread (a worker that prepares a run and then resumes it takes it once);
another thread of the same process is refused like another process."""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from ..errors import ConflictError, InputFileError

try:
    import fcntl
except ImportError:  # pragma: no cover - not on POSIX: no lock (one writer is the user's to keep)
    fcntl = None  # type: ignore[assignment]

LOCK_NAME = ".lock"

_held: dict[str, list] = {}  # real path of the run folder -> [fd, owning thread, depth]
_guard = threading.Lock()


class RunInUse(ConflictError):
    """Another reelwright process (or thread) is writing this run."""


def _busy(name: str, pid: int | str) -> RunInUse:
    return RunInUse(f"run {name} is in use by another reelwright process (pid {pid})")


@contextlib.contextmanager
def run_lock(root: Path | str) -> Iterator[None]:
    """Hold the run folder's writer lock for the `with` block; refuse at once if another holds it."""
    root = Path(root)
    key = os.path.realpath(root)
    me = threading.get_ident()
    with _guard:
        entry = _held.get(key)
        if entry is not None:
            if entry[1] != me:
                raise _busy(root.name, os.getpid())
            entry[2] += 1
    if entry is not None:  # this thread holds it already
        try:
            yield
        finally:
            with _guard:
                entry[2] -= 1
        return
    fd = _acquire(Path(key), root.name)
    with _guard:
        _held[key] = [fd, me, 1]
    try:
        yield
    finally:
        with _guard:
            _held.pop(key, None)
        if fd is not None:
            os.close(fd)  # closing the last descriptor releases the flock


def _acquire(root: Path, name: str) -> int | None:
    if fcntl is None:
        return None
    try:
        fd = os.open(root / LOCK_NAME, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o644)
    except OSError as exc:
        raise InputFileError(f"cannot lock run {name}: {exc.strerror or exc}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        pid = _holder(fd)
        os.close(fd)
        raise _busy(name, pid) from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return fd


def _holder(fd: int) -> int | str:
    """The holder's pid as it wrote it (it writes right after locking: wait a moment for it)."""
    for _ in range(20):
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
        if text.isdigit():
            return int(text)
        time.sleep(0.01)
    return "unknown"
