"""Events: every step of a run says what it is doing. The CLI renders them, `trace.jsonl` records them."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

Status = Literal["start", "progress", "done", "failed", "retry", "skipped", "info", "warning"]


class Event(BaseModel):
    step: str  # plan, prompt, generate, check, regenerate, cut, overlay, audio, verify, deliver, llm, tool...
    status: Status
    message: str = ""
    shot: str | None = None
    progress: float | None = None  # 0..1 within the step
    total: int | None = None
    completed: int | None = None
    elapsed_s: float | None = None
    cost_usd: float | None = None
    data: dict[str, Any] = Field(default_factory=dict)
    ts: float = Field(default_factory=time.time)


Sink = Callable[[Event], None]


class EventBus:
    """Fans events out to sinks. Thread-safe: clips are generated in worker threads."""

    def __init__(self, sinks: list[Sink] | None = None):
        self._sinks: list[Sink] = list(sinks or [])
        self._lock = threading.Lock()

    def subscribe(self, sink: Sink) -> None:
        self._sinks.append(sink)

    def emit(self, step: str, status: Status, message: str = "", **fields: Any) -> Event:
        event = Event(step=step, status=status, message=message, **fields)
        with self._lock:
            for sink in self._sinks:
                sink(event)
        return event


class TraceWriter:
    """Appends each event as one JSON line."""

    def __init__(self, path: Path):
        self.path = path
        self.path.parent.mkdir(parents=True, exist_ok=True)

    def __call__(self, event: Event) -> None:
        with self.path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(event.model_dump(mode="json"), ensure_ascii=False) + "\n")
