"""A run on disk: `runs/<id>/` with brief.json, plan.json, clips/, final.mp4, report.json, trace.jsonl,
and state.json (which clips were accepted, so a resumed or edited run reuses them)."""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
import time
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from ..brief import Brief
from ..errors import InputFileError
from ..plan import Plan


class AcceptedClip(BaseModel):
    shot_id: str
    fingerprint: str
    path: str  # relative to the run folder
    attempts: int = 1
    cost_usd: float = 0.0
    seconds_generated: float = 0.0
    job_id: str | None = None
    extend_ref: str | None = None  # what a provider needs to continue this clip natively (id or URI)
    verdicts: list[dict[str, Any]] = Field(default_factory=list)


class RunState(BaseModel):
    status: str = "created"  # created, planned, generating, cutting, done, failed
    accepted: dict[str, AcceptedClip] = Field(default_factory=dict)  # by fingerprint
    output: str | None = None
    spent_usd: float = 0.0
    updated: float = Field(default_factory=time.time)
    history: list[dict[str, Any]] = Field(default_factory=list)  # edits and extensions applied
    # shot id -> fingerprint of the accepted clip the latest cut used, so readers of a finished run
    # (export) find each shot's clip without rebuilding a Director to recompute fingerprints
    cut_clips: dict[str, str] = Field(default_factory=dict)


def write_atomic(path: Path, data: str | bytes) -> None:
    """Write to a temp file beside `path`, then rename: readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data.encode("utf-8") if isinstance(data, str) else data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def slugify(text: str, limit: int = 40) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return (slug[:limit].rstrip("-")) or "video"


def clip_fingerprint(payload: dict[str, Any]) -> str:
    """A stable hash of everything that decides a clip's pixels (prompt, duration, size, seed, refs...)."""
    blob = json.dumps(payload, sort_keys=True, default=str).encode("utf-8")
    return hashlib.sha256(blob).hexdigest()[:16]


class RunDir:
    """One job's folder. Everything is written as it goes; nothing is lost on interruption."""

    def __init__(self, root: Path):
        self.root = Path(root)

    @classmethod
    def create(cls, runs_dir: Path, brief: Brief) -> "RunDir":
        runs_dir = Path(runs_dir)
        try:
            runs_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InputFileError(f"cannot create runs folder {runs_dir}: {exc.strerror or exc}") from exc
        stamp = time.strftime("%Y%m%d-%H%M%S")
        base = f"{stamp}-{slugify(brief.request, 32)}"
        for n in range(1000):
            name = base if n == 0 else f"{base}-{n}"
            try:
                (runs_dir / name).mkdir()
                break
            except FileExistsError:
                continue
        run = cls(runs_dir / name)
        run.clips_dir.mkdir(exist_ok=True)
        run.save_brief(brief)
        run.save_state(RunState())
        return run

    @classmethod
    def open(cls, ref: str | Path, runs_dir: Path | None = None) -> "RunDir":
        """Open a run by path or by id under `runs_dir`."""
        candidates = [Path(ref)]
        if runs_dir is not None:
            candidates.append(Path(runs_dir) / str(ref))
        for c in candidates:
            if (c / "brief.json").is_file():
                return cls(c)
        where = f" (looked in {runs_dir})" if runs_dir else ""
        raise InputFileError(f"no run {str(ref)!r} found{where}")

    @property
    def id(self) -> str:
        return self.root.name

    @property
    def clips_dir(self) -> Path:
        return self.root / "clips"

    brief_path = property(lambda self: self.root / "brief.json")
    plan_path = property(lambda self: self.root / "plan.json")
    final_path = property(lambda self: self.root / "final.mp4")
    report_path = property(lambda self: self.root / "report.json")
    trace_path = property(lambda self: self.root / "trace.jsonl")
    state_path = property(lambda self: self.root / "state.json")
    memory_path = property(lambda self: self.root / "memory.json")

    def save_brief(self, brief: Brief) -> None:
        write_atomic(self.brief_path, brief.model_dump_json(indent=2))

    def load_brief(self) -> Brief:
        return Brief.model_validate_json(self.brief_path.read_text(encoding="utf-8"))

    def save_plan(self, plan: Plan) -> None:
        write_atomic(self.plan_path, plan.to_json())

    def load_plan(self) -> Plan | None:
        return Plan.load(self.plan_path) if self.plan_path.is_file() else None

    def load_state(self) -> RunState:
        if not self.state_path.is_file():
            return RunState()
        return RunState.model_validate_json(self.state_path.read_text(encoding="utf-8"))

    def save_state(self, state: RunState) -> None:
        state.updated = time.time()
        write_atomic(self.state_path, state.model_dump_json(indent=2))

    def accepted_clip(self, state: RunState, fingerprint: str) -> Path | None:
        """The accepted clip stored under `fingerprint`, if it is still on disk."""
        rec = state.accepted.get(fingerprint)
        if rec is None:
            return None
        path = self.root / rec.path
        return path if path.is_file() else None

    def clip_in_cut(self, shot_id: str, state: RunState | None = None) -> Path | None:
        """The accepted clip the latest cut used for `shot_id` (None before any cut, or if it is gone)."""
        state = state or self.load_state()
        fp = state.cut_clips.get(shot_id)
        if fp is None:  # a run cut before cut_clips was recorded: only an unambiguous record will do
            fps = [rec.fingerprint for rec in state.accepted.values() if rec.shot_id == shot_id]
            fp = fps[0] if len(fps) == 1 else None
        return self.accepted_clip(state, fp) if fp else None

    def save_report(self, report: dict[str, Any]) -> None:
        write_atomic(self.report_path, json.dumps(report, indent=2, default=str))

    def load_report(self) -> dict[str, Any]:
        if not self.report_path.is_file():
            return {}
        return json.loads(self.report_path.read_text(encoding="utf-8"))
