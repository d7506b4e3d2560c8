"""Crash safety: a fault-injection hook for kill -9 tests, and the clean-up a resume does of what a
killed process left behind (temp files of writers that are gone, work folders of dead edits).

`REELWRIGHT_CRASH_AT=STEP:STATUS[:N][:STOP]` (N-th match, default 1; STATUS may be `*`) makes the process
SIGKILL itself the moment that event is emitted — exactly what a power cut or OOM kill does at that
point, with no handler run. With `:STOP` it SIGSTOPs itself instead (frozen mid-run, holding what it
holds, for a test to act on and then kill). Only tests and benchmarks set it."""

from __future__ import annotations

import os
import re
import shutil
import signal
import threading
from pathlib import Path

from ..events import Event

CRASH_ENV = "REELWRIGHT_CRASH_AT"


class CrashAt:
    """An event sink that kills its own process at the N-th matching event."""

    def __init__(self, spec: str):
        parts = spec.split(":")
        self.signal = signal.SIGSTOP if parts[-1].upper() == "STOP" and len(parts) > 2 else signal.SIGKILL
        if self.signal == signal.SIGSTOP:
            parts = parts[:-1]
        self.step = parts[0]
        self.status = parts[1] if len(parts) > 1 else "*"
        self.nth = int(parts[2]) if len(parts) > 2 and parts[2].isdigit() else 1
        self.seen = 0
        self.lock = threading.Lock()

    def __call__(self, event: Event) -> None:
        if event.step != self.step or self.status not in ("*", event.status):
            return
        with self.lock:
            self.seen += 1
            if self.seen == self.nth:
                os.kill(os.getpid(), self.signal)


def crash_hook() -> CrashAt | None:
    spec = os.environ.get(CRASH_ENV, "").strip()
    return CrashAt(spec) if spec else None


_PART = re.compile(r"^\..*\.(\d+)-[0-9a-f]{8}\.part(\.\w+)?$")


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def is_stale(path: Path) -> bool:
    """A temp file or work folder whose writer is gone. Ours carry the writer's pid; an old-style
    fixed name (`.NAME.part`, `.sNN-…-n.mp4`) has no owner to ask and is stale by definition when a
    resume, which holds the run, finds it."""
    m = _PART.match(path.name)
    if m is not None:
        return not pid_alive(int(m.group(1)))
    m = re.match(r"^\..*\.edit-(\d+)-[0-9a-f]{8}$", path.name)
    if m is not None:
        return not pid_alive(int(m.group(1)))
    return path.name.startswith(".") and (path.name.endswith((".part", ".part.mp4")) or path.suffix == ".mp4")


def clean_stale(folder: Path, *, recursive: bool = True) -> list[Path]:
    """Remove what killed writers left in `folder` (and its subfolders); return what was removed."""
    removed: list[Path] = []
    if not folder.is_dir():
        return removed
    for path in (folder.rglob(".*") if recursive else folder.glob(".*")):
        if not is_stale(path):
            continue
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
        removed.append(path)
    return removed
