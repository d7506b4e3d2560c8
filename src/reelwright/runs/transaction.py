"""Edits as transactions. An edit of a run changes two things a reader sees together — plan.json and
final.mp4 — so it must never leave one new and the other old. The edit makes its new cut under
`final.next.mp4` and verifies it; then it writes `edit.pending.json` (the new plan, the history entry,
where to deliver): that write is the commit point. Applying a pending record — copy the old final to
`final.vN.mp4`, switch plan.json, rename final.next.mp4 onto final.mp4, append the history, deliver — is
idempotent, so whoever finds the record (the same edit run again, another edit, `resume`) rolls it
forward. Without a record, a stray `final.next.mp4` is an edit that never committed and is removed."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from ..media.util import copy_atomic
from ..plan import Plan
from .files import load_model
from .store import RunDir, write_atomic


class PendingEdit(BaseModel):
    request: str
    version: int  # the previous final is kept as final.v{version}.mp4
    plan: dict[str, Any]
    history: dict[str, Any]  # the entry appended to state.history (carries a unique id)
    cut_clips: dict[str, str] = Field(default_factory=dict)
    output: str | None = None
    created: float = Field(default_factory=time.time)


def pending_path(run: RunDir) -> Path:
    return run.root / "edit.pending.json"


def next_final_path(run: RunDir) -> Path:
    return run.root / "final.next.mp4"


def commit(run: RunDir, pending: PendingEdit) -> None:
    """Write the commit record (after the new cut is verified) and apply it."""
    write_atomic(pending_path(run), pending.model_dump_json(indent=2))
    apply(run, pending)


def apply(run: RunDir, pending: PendingEdit) -> Path:
    """Roll a committed edit forward; safe to repeat after a crash at any line."""
    from ..director.verify import deliver_copy

    kept = run.root / f"final.v{pending.version}.mp4"
    nxt = next_final_path(run)
    if nxt.is_file():
        if not kept.is_file() and run.final_path.is_file():
            copy_atomic(run.final_path, kept)
        run.save_plan(Plan.model_validate(pending.plan))
        nxt.replace(run.final_path)
    else:  # final.next was already renamed: make sure the plan followed
        run.save_plan(Plan.model_validate(pending.plan))
    state = run.load_state()
    if not any(h.get("id") == pending.history.get("id") for h in state.history):
        state.history.append(pending.history)
    state.cut_clips = dict(pending.cut_clips) or state.cut_clips
    state.status = "done"
    delivered = run.final_path
    if pending.output:
        delivered = deliver_copy(run.final_path, Path(pending.output))
    state.output = str(delivered)
    run.save_state(state)
    pending_path(run).unlink(missing_ok=True)
    return delivered


def recover(run: RunDir) -> PendingEdit | None:
    """Finish or undo an edit a killed process left: return the record it rolled forward, if any."""
    path = pending_path(run)
    if path.is_file():
        pending = load_model(PendingEdit, path, "run file")
        apply(run, pending)
        return pending
    next_final_path(run).unlink(missing_ok=True)  # a cut that never committed
    return None
