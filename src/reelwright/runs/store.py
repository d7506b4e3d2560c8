"""A run on disk: `runs/<id>/` with brief.json, plan.json, clips/, final.mp4, report.json, trace.jsonl,
and state.json (which clips were accepted, so a resumed or edited run reuses them)."""

from __future__ import annotations

import hashlib
import json
import re
import time
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from ..brief import Brief
from ..errors import InputFileError
from ..media.util import write_atomic  # the one atomic writer: unique temp, fsync, rename
from ..plan import Plan
from .files import load_json, load_model


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


class JobRecord(BaseModel):
    """A provider job submitted for a clip and not yet accepted: recorded before polling, so a retry or a
    resume fetches it again instead of paying for a new one."""

    shot_id: str
    job_id: str
    billed_usd: float | None = None  # set once the provider reported it finished (and billed) it


class ExtendTask(BaseModel):
    """What an `extend` run is for, recorded before anything is generated: resume finishes the same job
    (the original plus the continuation, verified against the whole target), not just the continuation."""

    source: str  # absolute path of the video being continued
    source_frames: int
    target_frames: int


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
    extend: ExtendTask | None = None  # set for runs made by `extend`
    jobs: dict[str, JobRecord] = Field(default_factory=dict)  # by clip fingerprint: submitted, not accepted




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
        return load_model(Brief, self.brief_path, "run file")

    def save_plan(self, plan: Plan) -> None:
        write_atomic(self.plan_path, plan.to_json())

    def load_plan(self) -> Plan | None:
        return Plan.load(self.plan_path) if self.plan_path.is_file() else None

    def load_state(self) -> RunState:
        if not self.state_path.is_file():
            return RunState()
        return load_model(RunState, self.state_path, "run file")

    def save_state(self, state: RunState) -> None:
        state.updated = time.time()
        write_atomic(self.state_path, state.model_dump_json(indent=2))

    def record_output(self, output: Path) -> None:
        """Remember the output path asked for (absolute: resume may run from another folder)."""
        state = self.load_state()
        state.output = str(Path(output).expanduser().absolute())
        self.save_state(state)

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
        """The saved report, or {} when there is none or it is damaged: report.json is our own output,
        rebuilt on every write, so a cut-short file is replaced rather than fatal."""
        if not self.report_path.is_file():
            return {}
        try:
            report = load_json(self.report_path, "run file")
        except InputFileError:
            return {}
        return report if isinstance(report, dict) else {}
