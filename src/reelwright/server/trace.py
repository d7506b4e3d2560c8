"""Reading a job's events back from its run folder's trace.jsonl: progress for the API, the stream for SSE.

The worker writes the trace (the Director's TraceWriter); the server only reads it, incrementally, so a page
following a job and the queue's progress figures cost one small read per new line."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Share of the job that a step's end marks: generation is most of the time; the rest is cut, verify, deliver.
_GENERATION_SHARE = 0.85


@dataclass
class _Follow:
    offset: int = 0
    progress: float = 0.0
    steps: list[dict[str, Any]] = field(default_factory=list)


def read_events(path: Path, offset: int = 0) -> tuple[list[dict[str, Any]], int]:
    """Whole lines from byte `offset` on; a half-written last line waits for the next read."""
    pairs, end = read_events_at(path, offset)
    return [e for e, _ in pairs], end


def read_events_at(path: Path, offset: int = 0) -> tuple[list[tuple[dict[str, Any], int]], int]:
    """Like `read_events`, with the byte offset just after each event (an SSE id to resume from)."""
    try:
        with path.open("rb") as fh:
            fh.seek(offset)
            data = fh.read()
    except FileNotFoundError:
        return [], offset
    end = data.rfind(b"\n")
    if end < 0:
        return [], offset
    events = []
    position = offset
    for line in data[: end + 1].splitlines(keepends=True):
        position += len(line)
        try:
            events.append((json.loads(line), position))
        except json.JSONDecodeError:
            continue
    return events, offset + end + 1


def progress_after(progress: float, event: dict[str, Any]) -> float:
    step, status = event.get("step"), event.get("status")
    if step == "plan" and status == "done":
        return max(progress, 0.05)
    if step == "generate" and event.get("total") and event.get("shot") is None:
        done = (event.get("completed") or 0) / max(1, event["total"])
        return max(progress, 0.05 + _GENERATION_SHARE * 0.95 * done)
    if step == "cut" and status == "done":
        return max(progress, 0.92)
    if step == "verify" and status == "done":
        return max(progress, 0.97)
    if step == "deliver" and status == "done":
        return 1.0
    return progress


class ProgressBook:
    """Progress per (trace file, start offset), updated from what was appended since the last look."""

    def __init__(self) -> None:
        self._follows: dict[tuple[str, int], _Follow] = {}
        self._lock = threading.Lock()

    def progress(self, trace: Path, start: int = 0) -> float:
        key = (str(trace), start)
        with self._lock:
            f = self._follows.setdefault(key, _Follow(offset=start))
            events, f.offset = read_events(trace, f.offset)
            for e in events:
                f.progress = progress_after(f.progress, e)
            return f.progress
