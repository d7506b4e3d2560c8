"""The REST API under /api: everything the page does (plans, runs, shots, events, uploads, downloads, cancel,
batch). Long work is a job: POST answers 202 with the run, GET follows it, /events streams its steps."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import secrets
from pathlib import Path
from typing import Any, Literal

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.responses import FileResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from .. import __version__
from ..errors import BriefError, ConflictError, NotFoundError
from .db import TERMINAL, Job
from .studio import MakeRequest, Studio
from .trace import read_events, read_events_at

router = APIRouter(prefix="/api", tags=["studio"])
ID = r"^[A-Za-z0-9_\-]{1,80}$"


def _studio(request: Request) -> Studio:
    return request.app.state.studio


class RunView(BaseModel):
    id: str
    kind: str
    status: Literal["queued", "in_progress", "completed", "failed", "cancelled"]
    progress: float = Field(description="0..1")
    prompt: str
    model: str
    seconds: str
    size: str
    run_id: str | None
    source_id: str | None
    batch_id: str | None
    created_at: float
    started_at: float | None
    completed_at: float | None
    error: str | None
    estimated_cost_usd: float | None = None
    cost_usd: float | None = None
    accepted_clips: int = 0
    files: list[str] = Field(default_factory=list)
    executor: str = Field("local", description="where its clips are made: local (the worker's own threads) or ray")
    ran_on: dict[str, Any] | None = Field(None, description="a job run as a Ray task (serve --jobs-on-cluster): "
                                                            "its task id, node id, host and worker pid")


def run_view(studio: Studio, job: Job) -> RunView:
    facts = studio.facts(job)
    cost, accepted, files = None, 0, []
    if job.run_dir and (Path(job.run_dir) / "state.json").is_file():
        from ..runs.store import RunDir

        run = RunDir(Path(job.run_dir))
        state = run.load_state()
        accepted = len({c.shot_id for c in state.accepted.values()})
        cost = round(state.spent_usd, 4)
        files = [name for name, path in _files(studio, job).items() if path.is_file()]
    return RunView(id=job.id, kind=job.kind, status=job.status, progress=round(studio.progress(job), 4),
                   prompt=job.prompt, model=job.model, seconds=facts["seconds"], size=facts["size"],
                   run_id=Path(job.run_dir).name if job.run_dir else None, source_id=job.source_id,
                   batch_id=job.batch_id, created_at=job.created_at, started_at=job.started_at,
                   completed_at=job.completed_at, error=job.error, estimated_cost_usd=facts["estimated_cost_usd"],
                   cost_usd=cost, accepted_clips=accepted, files=files,
                   executor=str(job.spec.get("executor") or "local"), ran_on=job.spec.get("ran_on"))


def _files(studio: Studio, job: Job) -> dict[str, Path]:
    root = Path(job.run_dir or "")
    out = {"video.mp4": Path(job.spec.get("output") or root / "final.mp4"), "plan.json": root / "plan.json",
           "report.json": root / "report.json", "trace.jsonl": root / "trace.jsonl",
           "timeline.otio": root / "timeline.otio"}
    for cap in sorted(root.glob("*.srt")) + sorted(root.glob("*.vtt")):
        out[cap.name] = cap
    return out


# ---------------------------------------------------------------------- service
@router.get("/health")
def health(request: Request) -> dict[str, Any]:
    studio = _studio(request)
    return {"ok": True, "version": __version__, "queued": studio.db.count("queued"),
            "running": studio.db.count("in_progress"), "max_workers": studio.queue.max_workers,
            "max_queued": studio.queue.max_queued}


@router.get("/generators")
def generators() -> list[dict[str, Any]]:
    """Video backends and what they can do (a backend whose package or key is missing says why)."""
    from ..errors import ReelwrightError
    from ..generators.registry import available, load_class

    rows = []
    for name in available():
        try:
            cls = load_class(name)
            caps = cls().capabilities()
        except (ReelwrightError, TypeError) as exc:
            rows.append({"name": name, "available": False, "reason": str(exc).splitlines()[0]})
            continue
        rows.append({"name": name, "available": True, "model": caps.model,
                     "durations_s": [float(d) for d in caps.allowed_durations()][:50], "aspects": list(caps.aspects),
                     "max_references": caps.max_references, "audio": caps.audio,
                     "price_per_second_usd": caps.price_per_second, "paid": caps.price_per_second > 0})
    return rows


class AccessToken(BaseModel):
    token: str
    expires_at: int


@router.post("/access-tokens", response_model=AccessToken)
def access_token(request: Request) -> AccessToken:
    """A short-lived token for GET links the browser cannot add a header to (EventSource, <video src>)."""
    token, expires = request.app.state.access.issue()
    return AccessToken(token=token, expires_at=expires)


# ---------------------------------------------------------------------- plans and runs
class PlannedShot(BaseModel):
    number: int
    id: str
    beat: str
    prompt: str
    camera: str
    start_s: float
    duration_s: float
    frames: int
    references: list[str]
    estimated_cost_usd: float


class PlanView(BaseModel):
    plan: dict[str, Any] = Field(description="the Plan; edit it and send it back as `plan` to POST /api/runs")
    shots: list[PlannedShot]
    total_s: float
    fps: str
    estimated_cost_usd: float


def plan_view(plan) -> PlanView:
    from ..generators.registry import get_generator

    try:
        gen = get_generator(plan.generator)
        per_shot = [gen.estimate_cost(s.gen_duration or plan.shot_duration(s)) for s in plan.shots]
    except Exception:  # an estimate is a courtesy; the plan's own total stands
        per_shot = [0.0 for _ in plan.shots]
    shots = []
    for i, (s, cost) in enumerate(zip(plan.shots, per_shot), 1):
        refs = [e.name for e in plan.cast.entities if e.id in s.entities and e.references]
        shots.append(PlannedShot(number=i, id=s.id, beat=s.beat, prompt=s.prompt, camera=s.camera,
                                 start_s=float(plan.shot_start(s)), duration_s=float(plan.shot_duration(s)),
                                 frames=s.frames, references=refs, estimated_cost_usd=round(cost, 4)))
    return PlanView(plan=json.loads(plan.to_json()), shots=shots, total_s=float(plan.duration), fps=str(plan.fps),
                    estimated_cost_usd=plan.estimated_cost_usd)


@router.post("/plans", response_model=PlanView)
def make_plan(request: Request, body: MakeRequest) -> PlanView:
    """Plan only (nothing is spent): the storyboard with each shot's start, length, prompt and estimated cost."""
    return plan_view(_studio(request).plan(body))


@router.post("/runs", response_model=RunView, status_code=202)
def create_run(request: Request, body: MakeRequest) -> RunView:
    """Queue a video: from `prompt`, or from an edited `plan` (its total must stay exact)."""
    studio = _studio(request)
    return run_view(studio, studio.submit_make(body))


class RunList(BaseModel):
    object: Literal["list"] = "list"
    data: list[RunView]
    has_more: bool


@router.get("/runs", response_model=RunList)
def list_runs(request: Request, limit: int = Query(20, ge=1, le=100), after: str | None = Query(None, pattern=ID),
              status: Literal["queued", "in_progress", "completed", "failed", "cancelled"] | None = None,
              batch_id: str | None = Query(None, pattern=ID)) -> RunList:
    studio = _studio(request)
    jobs = studio.db.list_jobs(limit=limit + 1, after=after, status=status, batch_id=batch_id)
    return RunList(data=[run_view(studio, j) for j in jobs[:limit]], has_more=len(jobs) > limit)


@router.get("/runs/{run_id}", response_model=RunView)
def get_run(request: Request, run_id: str) -> RunView:
    studio = _studio(request)
    return run_view(studio, studio.job(run_id))


class CancelView(RunView):
    kept_clips: int = Field(0, description="accepted clips kept in the run folder; resuming reuses them")


@router.post("/runs/{run_id}/cancel", response_model=CancelView)
def cancel_run(request: Request, run_id: str) -> CancelView:
    """Stop spending now. Accepted clips stay in the run; POST .../resume continues from them."""
    studio = _studio(request)
    view = run_view(studio, studio.cancel(run_id))
    return CancelView(**view.model_dump(), kept_clips=view.accepted_clips)


@router.post("/runs/{run_id}/resume", response_model=RunView, status_code=202)
def resume_run(request: Request, run_id: str) -> RunView:
    studio = _studio(request)
    return run_view(studio, studio.resume(run_id))


@router.delete("/runs/{run_id}")
def delete_run(request: Request, run_id: str) -> dict[str, Any]:
    studio = _studio(request)
    job = studio.delete(run_id)
    return {"id": job.id, "deleted": True}


@router.get("/runs/{run_id}/plan")
def get_run_plan(request: Request, run_id: str) -> dict[str, Any]:
    studio = _studio(request)
    plan = studio.run_of(studio.job(run_id)).load_plan()
    if plan is None:
        raise ConflictError(f"{run_id} has not been planned yet")
    return plan_view(plan).model_dump()


class ShotView(BaseModel):
    number: int
    id: str
    beat: str
    prompt: str
    start_s: float
    duration_s: float
    accepted: bool
    attempts: int = 0
    failed_reasons: list[str] = Field(default_factory=list)
    thumbnail: str | None = None


@router.get("/runs/{run_id}/shots", response_model=list[ShotView])
def get_shots(request: Request, run_id: str) -> list[ShotView]:
    """Each shot with whether its clip is accepted, its takes, and the reasons failed takes gave."""
    studio = _studio(request)
    job = studio.job(run_id)
    run = studio.run_of(job)
    plan = run.load_plan()
    if plan is None:
        return []
    accepted = _accepted_by_shot(run)
    failures: dict[str, list[str]] = {}
    events, _ = read_events(run.trace_path)
    for e in events:
        if e.get("step") == "check" and e.get("status") == "failed" and e.get("shot"):
            failures.setdefault(e["shot"], []).append(e.get("message", ""))
    rows = []
    for i, s in enumerate(plan.shots, 1):
        rec = accepted.get(s.id)
        rows.append(ShotView(number=i, id=s.id, beat=s.beat, prompt=s.prompt, start_s=float(plan.shot_start(s)),
                             duration_s=float(plan.shot_duration(s)), accepted=rec is not None,
                             attempts=rec.attempts if rec else 0, failed_reasons=failures.get(s.id, [])[-3:],
                             thumbnail=f"/api/runs/{job.id}/shots/{s.id}/thumbnail" if rec else None))
    return rows


def _accepted_by_shot(run) -> dict[str, Any]:
    by_shot: dict[str, Any] = {}
    for rec in run.load_state().accepted.values():  # later entries are newer takes of the same shot
        if (run.root / rec.path).is_file():
            by_shot[rec.shot_id] = rec
    return by_shot


@router.get("/runs/{run_id}/shots/{shot_id}/thumbnail", response_class=FileResponse,
            responses={200: {"content": {"image/webp": {}}}})
def shot_thumbnail(request: Request, run_id: str, shot_id: str) -> FileResponse:
    from .previews import thumbnail

    studio = _studio(request)
    run = studio.run_of(studio.job(run_id))
    rec = _accepted_by_shot(run).get(shot_id)
    if rec is None:
        raise NotFoundError(f"shot {shot_id!r} has no accepted clip yet")
    clip = run.root / rec.path
    return FileResponse(thumbnail(clip, run.root / "thumbs", key=f"{shot_id}-{rec.fingerprint}"), media_type="image/webp")


class RegenerateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    prompt: str | None = Field(None, max_length=5000, description="a new prompt; omitted: a new take of the same one")


@router.post("/runs/{run_id}/shots/{shot_id}/regenerate", response_model=RunView, status_code=202)
def regenerate_shot(request: Request, run_id: str, shot_id: str, body: RegenerateIn) -> RunView:
    """Make one shot again and re-cut; every other clip is reused. The previous cut is kept as final.vN.mp4."""
    studio = _studio(request)
    return run_view(studio, studio.submit_regenerate(run_id, shot_id, body.prompt))


class EditIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    request: str = Field(min_length=1, max_length=5000, description="e.g. \"add 'SALE 50%' at 0:05 for 3 seconds\"")


@router.post("/runs/{run_id}/edits", response_model=RunView, status_code=202)
def edit_run(request: Request, run_id: str, body: EditIn) -> RunView:
    """Edit by request into a new run: tools where they suffice, regeneration only of shots that must change."""
    studio = _studio(request)
    return run_view(studio, studio.submit_edit(run_id, body.request))


class ExtendIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    seconds: float | str = Field(description="seconds to add")
    prompt: str = Field("", max_length=5000)


@router.post("/runs/{run_id}/extensions", response_model=RunView, status_code=202)
def extend_run(request: Request, run_id: str, body: ExtendIn) -> RunView:
    studio = _studio(request)
    return run_view(studio, studio.submit_extend(run_id, body.seconds, body.prompt))


@router.get("/runs/{run_id}/files/{name}", response_class=FileResponse)
def download(request: Request, run_id: str, name: str) -> FileResponse:
    """video.mp4, plan.json, report.json, trace.jsonl, timeline.otio (made on demand), captions when present."""
    studio = _studio(request)
    job = studio.job(run_id)
    files = _files(studio, job)
    if name not in files:
        raise NotFoundError(f"no file {name!r}: choose one of {', '.join(files)}")
    if name == "video.mp4":
        path = studio.output_path(job)
    elif name == "timeline.otio":
        path = _otio(studio, job)
    else:
        path = files[name]
    if not path.is_file():
        raise NotFoundError(f"{run_id} has no {name} yet")
    return FileResponse(path, filename=f"{job.id}-{name}" if name == "video.mp4" else name)


def _otio(studio: Studio, job: Job) -> Path:
    from ..editing.otio_export import export_otio

    run = studio.run_of(studio.finished(job.id))
    dst = run.root / "timeline.otio"
    if not dst.is_file():
        export_otio(run, dst)
    return dst


# ---------------------------------------------------------------------- events
@router.get("/runs/{run_id}/events", response_class=StreamingResponse,
            responses={200: {"content": {"text/event-stream": {}}}})
async def events(request: Request, run_id: str, from_start: bool = True) -> StreamingResponse:
    """Server-sent events: each step as it happens (the same events the CLI shows), then `end` with the status.
    Reconnecting with Last-Event-ID continues where the stream stopped."""
    studio = _studio(request)
    job = studio.job(run_id)
    last = request.headers.get("last-event-id", "")
    start = int(job.spec.get("trace_offset", 0))
    offset = int(last) if last.isdigit() and int(last) >= start else start

    async def stream():
        nonlocal offset
        idle = 0.0
        while True:
            current = studio.db.get_job(job.id)
            trace = Path(current.run_dir) / "trace.jsonl" if current and current.run_dir else None
            batch, new_offset = read_events_at(trace, offset) if trace else ([], offset)
            for event, after in batch:
                yield f"id: {after}\nevent: step\ndata: {json.dumps(_public_event(event))}\n\n"
            offset = new_offset
            if current is None or current.status in TERMINAL:
                if not batch:
                    status = current.status if current else "deleted"
                    error = current.error if current else None
                    yield f"event: end\ndata: {json.dumps({'status': status, 'error': error})}\n\n"
                    return
                continue
            if await request.is_disconnected():
                return
            await asyncio.sleep(0.25)
            idle += 0.25
            if idle >= 15:
                idle = 0.0
                yield ": keep-alive\n\n"

    return StreamingResponse(stream(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


def _public_event(event: dict[str, Any]) -> dict[str, Any]:
    """The event as the page shows it; the full prompt text in `data` stays in the trace file."""
    keep = ("step", "status", "message", "shot", "progress", "total", "completed", "elapsed_s", "cost_usd", "ts")
    out = {k: event.get(k) for k in keep if event.get(k) is not None}
    data = event.get("data") or {}
    if "attempt" in data:
        out["attempt"] = data["attempt"]
    return out


# ---------------------------------------------------------------------- uploads
class UploadView(BaseModel):
    id: str
    name: str
    kind: Literal["image", "audio", "video"]
    mime: str
    bytes: int


@router.post("/uploads", response_model=UploadView, status_code=201)
def upload(request: Request, file: UploadFile = File(...), name: str = Form("")) -> UploadView:
    """A reference image (or audio, or video), checked by its content and stored under a generated name."""
    from .uploads import store_upload

    studio = _studio(request)
    up = store_upload(studio.db, studio.uploads_dir, file.file, name=name or Path(file.filename or "").stem)
    return UploadView(id=up.id, name=up.name, kind=up.kind, mime=up.mime, bytes=up.bytes)  # type: ignore[arg-type]


# ---------------------------------------------------------------------- batch
class BatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    requests: list[MakeRequest] = Field(default_factory=list, max_length=500)
    text: str = Field("", max_length=1_000_000,
                      description="one request per line, or CSV with a header row (prompt, duration, aspect, ...)")
    defaults: MakeRequest | None = Field(None, description="settings for lines that do not give their own")


class BatchView(BaseModel):
    batch_id: str
    runs: list[RunView]
    estimated_cost_usd: float


@router.post("/batches", response_model=BatchView, status_code=202)
def batch(request: Request, body: BatchIn) -> BatchView:
    """Queue many requests at once: admitted all or none (a full queue refuses the whole batch with 429)."""
    studio = _studio(request)
    reqs = list(body.requests) + parse_batch_text(body.text, body.defaults)
    if not reqs:
        raise BriefError("the batch is empty: give `requests` or `text` with one request per line")
    batch_id = "batch_" + secrets.token_hex(8)
    jobs = studio.submit_makes(reqs, batch_id=batch_id)
    views = [run_view(studio, j) for j in jobs]
    return BatchView(batch_id=batch_id, runs=views, estimated_cost_usd=sum(v.estimated_cost_usd or 0 for v in views))


_CSV_FIELDS = ("prompt", "duration", "aspect", "mode", "resolution", "fps", "generator", "llm", "budget_usd", "seed")


def parse_batch_text(text: str, defaults: MakeRequest | None = None) -> list[MakeRequest]:
    base = (defaults or MakeRequest()).model_dump(exclude={"prompt", "plan"})
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if not lines:
        return []
    header = [h.strip().lower() for h in next(csv.reader([lines[0]]))]
    if "prompt" in header:
        unknown = [h for h in header if h not in _CSV_FIELDS]
        if unknown:
            raise BriefError(f"unknown CSV column {unknown[0]!r}: use {', '.join(_CSV_FIELDS)}")
        out = []
        for n, row in enumerate(csv.DictReader(io.StringIO("\n".join(lines))), 2):
            fields = {k: v.strip() for k, v in row.items() if k and v is not None and v.strip()}
            try:
                out.append(MakeRequest(**{**base, **fields}))
            except ValueError as exc:
                raise BriefError(f"CSV line {n}: {str(exc).splitlines()[0]}") from None
        return out
    return [MakeRequest(**base, prompt=ln.strip()) for ln in lines]
