"""The studio's one service object: what the REST API, `/v1/videos` and the MCP tools all call.

Every job is a run folder created at submission (bad input fails here, before anything is queued or written) and
run by a worker through `reelwright.api`; the queue only decides when."""

from __future__ import annotations

import os
import re
import secrets
import shutil
import time
from fractions import Fraction
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ..errors import BriefError, ConflictError, InputFileError, NotFoundError, UserError
from ..plan import Plan
from ..runs import db as run_db
from ..runs.store import RunDir
from .db import TERMINAL, Database, Job
from .queue import JobQueue
from .trace import ProgressBook


class ReferenceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    upload_id: str = Field(description="id returned by POST /api/uploads")
    name: str | None = Field(default=None, max_length=80, description="the entity it shows, e.g. Biscuit")


class MakeRequest(BaseModel):
    """What to make. Either `prompt` (planned by the worker) or an edited `plan` from POST /api/plans."""

    model_config = ConfigDict(extra="forbid")
    prompt: str = Field(default="", max_length=4000)
    duration: float | str | None = Field(default=None, description="seconds, or '90s', '1:30', '2 minutes'")
    aspect: str | None = None
    mode: str | None = None
    resolution: str | None = None
    fps: str | float | None = None
    generator: str | None = None
    llm: str | None = None
    budget_usd: float | None = Field(default=None, ge=0)
    seed: int = Field(default=0, ge=0, le=2**31 - 1)
    references: list[ReferenceIn] = Field(default_factory=list, max_length=16)
    generator_options: dict[str, Any] = Field(default_factory=dict)
    allow_long: bool = False
    plan: dict[str, Any] | None = None


class Studio:
    def __init__(self, home: Path, *, max_workers: int = 1, max_queued: int = 100, runs_dir: Path | None = None,
                 settings: Any = None):
        from ..config import default_runs_dir, resolve_settings

        self.home = Path(home)
        self.home.mkdir(parents=True, exist_ok=True)
        # Resolved once (flag → REELWRIGHT_* → config file): the defaults a request does not override.
        self.settings = settings or resolve_settings()
        self.runs_dir = Path(runs_dir or self.settings.runs_dir or default_runs_dir())
        self.uploads_dir = self.home / "uploads"
        self.db = Database(self.home / run_db.DB_NAME)  # the run store's database: one file for both
        self.queue = JobQueue(self.db, max_workers=max_workers, max_queued=max_queued, logs_dir=self.home / "logs",
                              worker_env={"REELWRIGHT_EXECUTOR": self.settings.executor})
        self.progress_book = ProgressBook()
        self._plan_cache: dict[str, tuple[int, dict[str, Any]]] = {}

    def start(self) -> None:
        if self.settings.jobs_on_cluster and self.settings.executor != "ray":
            raise UserError("--jobs-on-cluster needs --executor ray (or REELWRIGHT_EXECUTOR=ray)")
        if self.settings.executor == "ray":
            # Jobs run as Ray tasks hold a CPU each: a cluster started here gets that many more, so a job never
            # waits for a CPU its own clip workers need.
            extra = self.queue.max_workers if self.settings.jobs_on_cluster else 0
            self.queue.worker_env.update(ray_worker_env(extra_cpus=extra))
        if self.settings.jobs_on_cluster:
            from ..executors.ray_cluster import connect
            from .ray_jobs import launch

            connect()  # the queue submits the jobs: this process joins the cluster (a local one it has already)
            self.queue.launcher = launch
        self.queue.start()

    def stop(self) -> None:
        self.queue.stop()

    # ------------------------------------------------------------------ planning and making
    def brief_for(self, req: MakeRequest):
        from .. import api
        from ..brief import Reference
        if not req.prompt.strip():
            raise BriefError("the prompt is empty: say what the video should show")
        refs = [Reference(path=Path(self.upload(r.upload_id).path), name=r.name) for r in req.references]
        return api.make_brief(req.prompt, duration=req.duration, aspect=req.aspect, mode=req.mode,
                              resolution=req.resolution, fps=req.fps, references=refs,
                              generator=req.generator or self.settings.generator,
                              llm=req.llm or self.settings.llm, budget_usd=req.budget_usd,
                              seed=req.seed, allow_long=req.allow_long)

    def plan(self, req: MakeRequest) -> Plan:
        from .. import api

        brief = self.brief_for(req)
        self.check_generator(brief.generator, req.generator_options)
        return api.plan_video(brief, generator_options=req.generator_options, llm_base_url=self.settings.llm_base_url,
                              fallback=self.settings.fallback)

    def check_generator(self, spec: str, options: dict[str, Any]) -> None:
        """Unknown generators, missing extras and missing keys fail at submission, not in the worker.
        Options that would point the server's provider keys or files somewhere else are not the client's to set."""
        from ..generators.registry import get_generator

        unsafe = sorted(k for k in options if _UNSAFE_OPTION.search(k))
        if unsafe:
            raise BriefError(f"generator option {unsafe[0]!r} can only be set on the server, not in a request")

        try:
            get_generator(spec, **options)
        except TypeError as exc:
            raise BriefError(f"generator {spec!r} does not take these options: {exc}") from None

    def submit_make(self, req: MakeRequest, *, model: str = "reelwright", source_id: str | None = None,
                    batch_id: str | None = None) -> Job:
        return self.submit_makes([req], model=model, source_id=source_id, batch_id=batch_id)[0]

    def submit_makes(self, reqs: list[MakeRequest], *, model: str = "reelwright", source_id: str | None = None,
                     batch_id: str | None = None) -> list[Job]:
        """Validate every request, then admit all or none."""
        prepared = [self._prepare(req) for req in reqs]
        jobs, runs = [], []
        try:
            for req, (brief, plan) in zip(reqs, prepared):
                run = RunDir.create(self.runs_dir, brief)
                runs.append(run)
                if plan is not None:
                    run.save_plan(plan)
                jobs.append(self._job("make", run=run, model=model, prompt=brief.request, source_id=source_id,
                                      batch_id=batch_id, spec={"generator_options": req.generator_options,
                                            "llm_base_url": self.settings.llm_base_url},
                                      seconds=_seconds_text(plan.duration if plan else brief.duration),
                                      size=f"{plan.width}x{plan.height}" if plan else ""))
            return self.queue.submit_many(jobs)
        except BaseException:
            for run in runs:  # nothing half-written: a refused batch leaves no run folders behind
                shutil.rmtree(run.root, ignore_errors=True)
            raise

    def _prepare(self, req: MakeRequest):
        if req.plan is not None:
            plan = _load_plan(req.plan)
            self._check_plan_paths(plan)
            if plan.total_frames != plan.target_frames:
                raise BriefError(f"plan shots add up to {plan.total_frames} frames but the target is "
                                 f"{plan.target_frames}; keep the total exact")
            self.check_generator(plan.brief.generator, req.generator_options)
            fit_generation(plan, req.generator_options)
            return plan.brief, plan
        brief = self.brief_for(req)
        self.check_generator(brief.generator, req.generator_options)
        return brief, None

    def _check_plan_paths(self, plan: Plan) -> None:
        """A plan from a client may name files only among this server's uploads."""
        root = self.uploads_dir.resolve()
        for value in _paths_in(plan.model_dump()):
            resolved = Path(value).resolve()
            if not resolved.is_relative_to(root) or not resolved.is_file():
                raise BriefError("a plan may refer only to uploaded files (POST /api/uploads); "
                                 f"{Path(value).name!r} is not one")

    def submit_edit(self, source_id: str | None, request: str, *, source_file: Path | None = None,
                    model: str = "reelwright") -> Job:
        """Edit a completed video (a copy of its run, so the original stays) or an uploaded video file."""
        if not request.strip():
            raise BriefError("the edit request is empty: say what to change")
        source = self.finished(source_id) if source_id else None
        src_run = self.run_of(source) if source and self.has_run(source) else None
        if source is not None and src_run is None:
            source_file = self.output_path(source)  # an edited upload: edit its file again
        if src_run is None or src_run.load_brief().llm == "builtin":
            from ..editing.parse import parse_edit

            parse_edit(request)  # an edit the built-in parser cannot read fails now, with its own message
        name = f"{src_run.id if src_run else 'upload'}-edit-{secrets.token_hex(3)}"
        run_root = self.runs_dir / name
        run_root.mkdir(parents=True)
        spec = {"request": request, "llm_base_url": self.settings.llm_base_url}
        spec.update({"source_run": str(src_run.root)} if src_run else {"source_file": str(source_file)})
        seconds, size = (source.seconds, source.size) if source else _facts_of_file(Path(source_file or ""))
        job = self._job("edit", run=RunDir(run_root), model=model, prompt=request,
                        source_id=source.id if source else None, spec=spec, seconds=seconds, size=size)
        try:
            return self.queue.submit(job)
        except BaseException:
            shutil.rmtree(run_root, ignore_errors=True)
            raise

    def submit_extend(self, source_id: str | None, seconds: Any, request: str = "", *,
                      source_file: Path | None = None, model: str = "reelwright") -> Job:
        """Continue a completed video (or an uploaded one) by `seconds`."""
        from .. import api
        from ..media import probe

        source = self.finished(source_id) if source_id else None
        add = api.parse_duration_value(seconds)
        video = self.output_path(source) if source else Path(source_file or "")
        info = probe(video)
        total = Fraction(info.frames) / info.fps + add
        generator = (self.run_of(source).load_brief().generator if source and self.has_run(source)
                     else self.settings.generator)
        job = self._job("extend", run=None, model=model, prompt=request, source_id=source.id if source else None,
                        spec={"source": str(video), "to_seconds": str(total), "request": request,
                              "generator": generator, "runs_dir": str(self.runs_dir)}, seconds=_seconds_text(total), size=f"{info.width}x{info.height}")
        return self.queue.submit(job)

    def submit_remix(self, source_id: str, prompt: str, *, model: str = "reelwright") -> Job:
        """The source's settings (length, size, generator) with a new prompt."""
        source = self.finished(source_id)
        brief = self.run_of(source).load_brief()
        plan = self.run_of(source).load_plan()
        req = MakeRequest(prompt=prompt, duration=str(plan.duration if plan else brief.duration or "") or None,
                          aspect=plan.aspect if plan else brief.aspect, mode=brief.mode, resolution=brief.resolution,
                          fps=str(brief.fps), generator=brief.generator, llm=brief.llm, seed=brief.seed)
        return self.submit_make(req, model=model, source_id=source.id)

    def submit_regenerate(self, job_id: str, shot_id: str, prompt: str | None = None) -> Job:
        """Make one shot again (new seed, optionally a new prompt) and re-cut, reusing every other clip."""
        source = self.finished(job_id)
        run = self.run_of(source)
        plan = run.load_plan()
        try:
            shot = plan.shot(shot_id) if plan else None
        except KeyError:
            shot = None
        if shot is None:
            raise NotFoundError(f"run {run.id} has no shot {shot_id!r}")
        version = len([p for p in run.root.glob("final.v*.mp4")]) + 1
        offset = run.trace_path.stat().st_size if run.trace_path.is_file() else 0
        job = self._job("regenerate", run=run, model=source.model, prompt=prompt or shot.prompt, source_id=source.id,
                        spec={"shot_id": shot_id, "prompt": prompt, "seed": shot.seed + 1, "version": version,
                              "trace_offset": offset}, seconds=source.seconds, size=source.size)
        return self.queue.submit(job)

    def _job(self, kind: str, *, run: RunDir | None, model: str, prompt: str, spec: dict[str, Any],
             seconds: str = "", size: str = "", source_id: str | None = None, batch_id: str | None = None) -> Job:
        spec = {**spec, "executor": self.settings.executor}  # where its clips will be made (the worker confirms)
        return Job(id="video_" + secrets.token_hex(12), kind=kind, status="queued", spec=spec,  # type: ignore[arg-type]
                   run_dir=str(run.root) if run else None, model=model, prompt=prompt, seconds=seconds, size=size,
                   source_id=source_id, batch_id=batch_id, created_at=time.time())

    # ------------------------------------------------------------------ reading
    def job(self, job_id: str) -> Job:
        job = self.db.get_job(job_id)
        if job is None:
            raise NotFoundError(f"no video or run {job_id!r}")
        return job

    def finished(self, job_id: str) -> Job:
        job = self.job(job_id)
        if job.status != "completed":
            raise ConflictError(f"{job_id} is {job.status}; it must be completed first")
        return job

    def has_run(self, job: Job) -> bool:
        return bool(job.run_dir) and (Path(job.run_dir or "") / "brief.json").is_file()

    def run_of(self, job: Job) -> RunDir:
        if not job.run_dir or not (Path(job.run_dir) / "brief.json").is_file():
            raise ConflictError(f"{job.id} has no run folder yet")
        return RunDir(Path(job.run_dir))

    def output_path(self, job: Job) -> Path:
        if job.status != "completed":
            raise ConflictError(f"{job.id} is {job.status}; its video is not ready")
        out = job.spec.get("output")
        path = Path(out) if out else (Path(job.run_dir) / "final.mp4" if job.run_dir else None)
        if path is None or not path.is_file():
            raise NotFoundError(f"the video of {job.id} is no longer stored")
        return path

    def progress(self, job: Job) -> float:
        if job.status == "completed":
            return 1.0
        if not job.run_dir:
            return 0.0
        return self.progress_book.progress(Path(job.run_dir) / "trace.jsonl", int(job.spec.get("trace_offset", 0)))

    def facts(self, job: Job) -> dict[str, Any]:
        """Length and size as far as they are known: from the plan once there is one."""
        facts = {"seconds": job.seconds, "size": job.size, "estimated_cost_usd": None}
        if job.run_dir and job.kind in ("make", "regenerate", "edit"):
            facts.update(self._plan_facts(Path(job.run_dir) / "plan.json"))
        return facts

    def _plan_facts(self, path: Path) -> dict[str, Any]:
        """Read a plan once per change: listing 20 videos while workers render must stay cheap."""
        try:
            stamp = path.stat().st_mtime_ns
        except OSError:
            return {}
        cached = self._plan_cache.get(str(path))
        if cached and cached[0] == stamp:
            return cached[1]
        try:
            plan = Plan.load(path)
        except (BriefError, InputFileError):
            return {}
        facts = {"seconds": _seconds_text(plan.duration), "size": f"{plan.width}x{plan.height}",
                 "estimated_cost_usd": plan.estimated_cost_usd}
        self._plan_cache[str(path)] = (stamp, facts)
        return facts

    def upload(self, upload_id: str):
        up = self.db.get_upload(upload_id)
        if up is None:
            raise NotFoundError(f"no upload {upload_id!r}")
        return up

    # ------------------------------------------------------------------ changing
    def cancel(self, job_id: str, wait_s: float = 10.0) -> Job:
        """Cancel, and wait (a little) until the worker has stopped, so the answer says what is kept."""
        job = self.queue.cancel(self.job(job_id).id)
        deadline = time.monotonic() + wait_s
        while job.status not in TERMINAL and time.monotonic() < deadline:
            time.sleep(0.05)
            job = self.job(job_id)
        return job

    def resume(self, job_id: str) -> Job:
        return self.queue.requeue(self.job(job_id).id)

    def delete(self, job_id: str) -> Job:
        """Delete a finished job and its run folder (a running one must be cancelled first)."""
        job = self.job(job_id)
        if job.status not in TERMINAL:
            raise ConflictError(f"{job_id} is {job.status}; cancel it before deleting")
        shared = job.kind == "regenerate" or any(
            j.run_dir == job.run_dir and j.id != job.id for j in self.db.list_jobs(limit=1000))
        self.db.update_job(job_id, deleted=1)
        if job.run_dir and not shared and Path(job.run_dir).resolve().is_relative_to(self.runs_dir.resolve()):
            shutil.rmtree(job.run_dir, ignore_errors=True)
        return job


def ray_worker_env(extra_cpus: int = 0) -> dict[str, str]:
    """Where the job workers find the cluster: RAY_ADDRESS when set (they join it), else a local cluster this
    server starts now, once for all jobs, and which ends with the server (with `extra_cpus` more logical CPUs
    than the machine has)."""
    from ..executors.ray_cluster import start_local

    if os.environ.get("RAY_ADDRESS"):
        return {}
    return {"RAY_ADDRESS": start_local((os.cpu_count() or 1) + extra_cpus if extra_cpus else None)}


# Where a request could send the server's keys (a base URL) or read its files (a path): server configuration only.
_UNSAFE_OPTION = re.compile(r"url|host|endpoint|key|token|secret|path|dir|file|transport|cert|proxy|upload", re.I)


def fit_generation(plan: Plan, options: dict[str, Any]) -> None:
    """A person may lengthen a shot in the storyboard: ask the generator for an allowed length that covers it
    (the cut trims the rest), and re-estimate the cost."""
    from ..generators.registry import get_generator
    from ..timing import frames_to_seconds

    generator = get_generator(plan.generator, **options)
    allowed = generator.capabilities().allowed_durations()
    for shot in plan.shots:
        need = frames_to_seconds(shot.in_frame + shot.source_frames, plan.fps)
        if shot.gen_duration is not None and shot.gen_duration >= need:
            continue
        longer = [d for d in allowed if d >= need]
        if not longer:
            raise BriefError(f"shot {shot.id} lasts {float(need):g} s but {plan.generator} makes at most "
                             f"{float(allowed[-1]):g} s: split it into two shots")
        shot.gen_duration = min(longer)
    plan.estimated_cost_usd = round(sum(generator.estimate_cost(Fraction(s.gen_duration or 0)) for s in plan.shots), 4)


def _facts_of_file(path: Path) -> tuple[str, str]:
    from ..media import probe

    info = probe(path)
    return _seconds_text(Fraction(info.frames) / info.fps), f"{info.width}x{info.height}"


def _load_plan(data: dict[str, Any]) -> Plan:
    from pydantic import ValidationError

    try:
        return Plan.model_validate(_forget_outgrown_lengths(data))
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(x) for x in first["loc"]) or "top level"
        raise BriefError(f"plan is invalid at {loc}: {first['msg']}") from None


def _forget_outgrown_lengths(data: dict[str, Any]) -> dict[str, Any]:
    """A shot lengthened in the storyboard outgrows the clip length planned for it; that length is forgotten here
    (the plan would refuse it) and `fit_generation` asks for an allowed one that covers the shot."""
    from ..plan import Shot
    from ..timing import to_fraction

    try:
        fps = to_fraction(data.get("fps", 24))
        shots = data.get("shots")
        if not isinstance(shots, list) or fps <= 0:
            return data
        out = []
        for raw in shots:
            if isinstance(raw, dict) and raw.get("gen_duration") is not None:
                shot = Shot.model_validate(raw)
                if shot.in_frame + shot.source_frames > shot.gen_duration * fps + 1:
                    raw = {**raw, "gen_duration": None}
            out.append(raw)
        return {**data, "shots": out}
    except (ValueError, TypeError, ArithmeticError):
        return data  # the plan's own validation names what is wrong


def _paths_in(value: Any):
    if isinstance(value, Path):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _paths_in(v)
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from _paths_in(v)


def _seconds_text(value: Fraction | None) -> str:
    if value is None:
        return ""
    f = float(value)
    return f"{f:g}" if abs(f - round(f, 3)) < 1e-9 else f"{f:.3f}"
