"""`/v1/videos`: the Videos job protocol, as the official `openai` SDK's `client.videos` speaks it (and vLLM-Omni,
SGLang and Dynamo serve it). A video is a studio job; `model` names the generator or mode (`reelwright`,
`reelwright-xai`, `reelwright-short-film`); reelwright's own fields ride in the SDK's `extra_body`.

The SDK sends create, edit and extend as multipart forms with nested keys (`video[id]`, `references[]`); JSON
bodies are accepted too. openai 3.x cannot send `video={"id": ...}` to edit/extend (its file extraction rejects a
dict), so a completed video is named with `video=omit, extra_body={"video": {"id": ...}}`, or the file is sent."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse, JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..errors import BriefError
from .db import Job
from .studio import MakeRequest, ReferenceIn, Studio

router = APIRouter(prefix="/v1", tags=["videos"])
POLL_AFTER_MS = 500
ID = r"^[A-Za-z0-9_\-]{1,80}$"


class VideoError(BaseModel):
    code: str
    message: str


class Video(BaseModel):
    id: str
    object: Literal["video"] = "video"
    status: Literal["queued", "in_progress", "completed", "failed"]
    progress: int
    created_at: int
    completed_at: int | None = None
    expires_at: int | None = None
    model: str
    seconds: str
    size: str
    prompt: str | None = None
    remixed_from_video_id: str | None = None
    error: VideoError | None = None


class VideoList(BaseModel):
    object: Literal["list"] = "list"
    data: list[Video]
    first_id: str | None
    last_id: str | None
    has_more: bool


class VideoDeleted(BaseModel):
    id: str
    object: Literal["video.deleted"] = "video.deleted"
    deleted: bool = True


class VideoRef(BaseModel):
    """A completed video by id, or an uploaded video file (the SDK sends a file as the `video` part)."""

    model_config = ConfigDict(extra="forbid")
    id: str | None = Field(None, pattern=ID)
    upload_id: str | None = Field(None, pattern=ID)

    def source(self, studio: Studio) -> tuple[str | None, Path | None]:
        if bool(self.id) == bool(self.upload_id):
            raise BriefError("video must be {\"id\": VIDEO_ID} or an uploaded video file")
        if self.id:
            return self.id, None
        up = studio.upload(self.upload_id or "")
        if up.kind != "video":
            raise BriefError(f"the uploaded {up.kind} is not a video")
        return None, Path(up.path)


class VideoCreateIn(BaseModel):
    """The protocol's fields, then reelwright's (sent through `extra_body`)."""

    model_config = ConfigDict(extra="forbid")
    prompt: str = Field(min_length=1, max_length=4000)
    model: str = "reelwright"
    seconds: str | float = Field("4", description="any positive length: 4, 60, 90.5, '1:30'")
    size: str | None = Field(None, description="WIDTHxHEIGHT, e.g. 1280x720 or 640x360")
    mode: str | None = None
    aspect: str | None = None
    resolution: str | None = None
    fps: str | float | None = None
    budget_usd: float | None = Field(None, ge=0)
    seed: int = Field(0, ge=0, le=2**31 - 1)
    llm: str | None = None
    references: list[str] = Field(default_factory=list, max_length=16,
                                  description="upload ids from POST /api/uploads, optionally NAME=upload_id")
    generator_options: dict[str, Any] = Field(default_factory=dict)
    plan: dict[str, Any] | None = None


class VideoEditIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    prompt: str = Field(min_length=1, max_length=5000)
    video: VideoRef


class VideoExtendIn(VideoEditIn):
    seconds: str | float = Field(description="seconds to add to the video")


class VideoRemixIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    prompt: str = Field(min_length=1, max_length=4000)


def _body_doc(model: type[BaseModel]) -> dict[str, Any]:
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    schema.pop("$defs", None)
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema},
                                                          "multipart/form-data": {"schema": schema}}}}


def _studio(request: Request) -> Studio:
    return request.app.state.studio


def video_of(studio: Studio, job: Job) -> Video:
    facts = studio.facts(job)
    status = "failed" if job.status == "cancelled" else job.status
    error = None
    if job.status == "cancelled":
        error = VideoError(code="cancelled", message="the job was cancelled; accepted clips are kept")
    elif job.status == "failed":
        error = VideoError(code=job.error_code or "generation_failed", message=job.error or "failed")
    return Video(id=job.id, status=status, progress=int(round(studio.progress(job) * 100)),  # type: ignore[arg-type]
                 created_at=int(job.created_at), completed_at=int(job.completed_at) if job.completed_at else None,
                 model=job.model, seconds=facts["seconds"] or job.seconds, size=facts["size"] or job.size,
                 prompt=job.prompt, remixed_from_video_id=job.source_id if job.kind == "make" else None, error=error)


async def read_body(request: Request, studio: Studio) -> dict[str, Any]:
    """JSON, or a multipart/urlencoded form with bracketed keys, as one nested dict. Files become uploads."""
    ctype = request.headers.get("content-type", "")
    if ctype.startswith("application/json"):
        try:
            data = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise BriefError("the body is not valid JSON") from None
        if not isinstance(data, dict):
            raise BriefError("the body must be a JSON object")
        return data
    if not (ctype.startswith("multipart/form-data") or ctype.startswith("application/x-www-form-urlencoded")):
        raise BriefError("send the body as JSON or as a multipart form")
    from starlette.concurrency import run_in_threadpool

    from .uploads import store_upload

    form = await request.form()
    data: dict[str, Any] = {}
    for key, value in form.multi_items():
        if hasattr(value, "read"):  # an uploaded file: checked and stored like any upload (off the event loop)
            up = await run_in_threadpool(store_upload, studio.db, studio.uploads_dir, value.file,
                                         name=getattr(value, "filename", "") or "")
            value = {"upload_id": up.id}
        elif value == "":
            continue  # the SDK sends None as an empty field
        _put(data, key, value)
    for key in ("plan", "generator_options"):
        if isinstance(data.get(key), str):
            try:
                data[key] = json.loads(data[key])
            except json.JSONDecodeError:
                raise BriefError(f"{key} must be a JSON object") from None
    return data


def _put(data: dict[str, Any], key: str, value: Any) -> None:
    """Set `value` at a bracketed key: 'video[id]' → data['video']['id']; 'references[]' appends to a list."""
    m = re.fullmatch(r"([^\[\]]+)((?:\[[^\[\]]*\])*)", key)
    if not m:
        raise BriefError(f"cannot read form field {key[:40]!r}")
    parts = [m.group(1)] + re.findall(r"\[([^\[\]]*)\]", m.group(2))
    if parts[-1] == "" and "" not in parts[:-1]:
        node = _descend(data, parts[:-2], key)
        items = node.setdefault(parts[-2], [])
        if not isinstance(items, list):
            raise BriefError(f"form field {parts[-2]!r} is given twice in different shapes")
        items.append(value)
        return
    if "" in parts:
        raise BriefError(f"cannot read form field {key[:40]!r}")
    _descend(data, parts[:-1], key)[parts[-1]] = value


def _descend(data: dict[str, Any], parts: list[str], key: str) -> dict[str, Any]:
    node = data
    for part in parts:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise BriefError(f"form field {key[:40]!r} is given twice in different shapes")
    return node


def _validate(model: type[BaseModel], data: dict[str, Any]):
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(x) for x in first["loc"])
        raise BriefError(f"{loc}: {first['msg']}" if loc else first["msg"]) from None


def parse_model(model: str) -> tuple[str | None, str | None]:
    """'reelwright' → defaults; 'reelwright-xai' → generator xai; 'reelwright-short-film' → mode."""
    from ..brief import MODES
    from ..generators.registry import available, parse_spec

    name = (model or "reelwright").strip()
    if name == "reelwright":
        return None, None
    if not name.startswith("reelwright-"):
        raise BriefError(f"unknown model {name!r}: use reelwright, reelwright-MODE or reelwright-GENERATOR "
                         f"(generators: {', '.join(available())})")
    rest = name[len("reelwright-"):]
    if rest in MODES:
        return None, rest
    if parse_spec(rest)[0] not in available():
        raise BriefError(f"unknown model {name!r}: generators are {', '.join(available())}; modes are {', '.join(MODES)}")
    return rest, None


def size_to_brief(size: str) -> tuple[str, str]:
    """'1280x720' → ('16:9', '720p'): the nearest known aspect and resolution (the Video reports the true size)."""
    from ..brief import ASPECTS, RESOLUTIONS

    m = re.fullmatch(r"\s*(\d{2,5})\s*[xX×]\s*(\d{2,5})\s*", size)
    if not m:
        raise BriefError(f"size {size!r} must be WIDTHxHEIGHT, e.g. 1280x720")
    w, h = int(m.group(1)), int(m.group(2))
    ratio = w / h
    aspect = min(ASPECTS, key=lambda a: abs(ASPECTS[a][0] / ASPECTS[a][1] - ratio))
    aw, ah = ASPECTS[aspect]
    if abs(aw / ah - ratio) / ratio > 0.05:
        raise BriefError(f"size {size!r} is not near a supported aspect ({', '.join(ASPECTS)})")
    short = min(w, h)
    resolution = min(RESOLUTIONS, key=lambda r: abs(RESOLUTIONS[r] - short))
    return aspect, resolution


def make_request_from(body: VideoCreateIn, input_reference: Any) -> MakeRequest:
    generator, mode = parse_model(body.model)
    aspect = resolution = None
    if body.size:
        aspect, resolution = size_to_brief(body.size)
    refs = []
    for r in body.references:
        name, sep, upload_id = r.partition("=")
        refs.append(ReferenceIn(upload_id=upload_id, name=name) if sep else ReferenceIn(upload_id=r))
    if isinstance(input_reference, dict) and input_reference.get("upload_id"):
        refs.insert(0, ReferenceIn(upload_id=input_reference["upload_id"]))
    return MakeRequest(prompt=body.prompt, duration=body.seconds, aspect=body.aspect or aspect,
                       mode=body.mode or mode, resolution=body.resolution or resolution, fps=body.fps,
                       generator=generator, llm=body.llm, budget_usd=body.budget_usd, seed=body.seed,
                       references=refs, generator_options=body.generator_options, plan=body.plan)


@router.post("/videos", response_model=Video, openapi_extra=_body_doc(VideoCreateIn))
async def create_video(request: Request) -> Video:
    """Create a video job (answers at once with status `queued`; poll GET /v1/videos/{id})."""
    studio = _studio(request)
    data = await read_body(request, studio)
    input_reference = data.pop("input_reference", None)
    body = _validate(VideoCreateIn, data)
    req = make_request_from(body, input_reference)
    job = await _off_loop(studio.submit_make, req, model=body.model)
    return video_of(studio, job)


async def _off_loop(fn, *args, **kwargs):
    """Submission validates and writes the run folder: keep it off the event loop."""
    from starlette.concurrency import run_in_threadpool

    return await run_in_threadpool(fn, *args, **kwargs)


@router.get("/videos", response_model=VideoList)
def list_videos(request: Request, after: str | None = Query(None, pattern=ID), limit: int = Query(20, ge=1, le=100),
                order: Literal["asc", "desc"] = "desc") -> VideoList:
    studio = _studio(request)
    jobs = studio.db.list_jobs(limit=limit + 1, after=after, order=order)
    data = [video_of(studio, j) for j in jobs[:limit]]
    return VideoList(data=data, first_id=data[0].id if data else None, last_id=data[-1].id if data else None,
                     has_more=len(jobs) > limit)


@router.get("/videos/{video_id}", response_model=Video)
def retrieve_video(request: Request, video_id: str) -> JSONResponse:
    studio = _studio(request)
    video = video_of(studio, studio.job(video_id))
    return JSONResponse(video.model_dump(mode="json"), headers={"openai-poll-after-ms": str(POLL_AFTER_MS)})


@router.delete("/videos/{video_id}", response_model=VideoDeleted)
def delete_video(request: Request, video_id: str) -> VideoDeleted:
    """Delete a completed or failed video and its files (cancel a running one first)."""
    job = _studio(request).delete(video_id)
    return VideoDeleted(id=job.id)


@router.get("/videos/{video_id}/content", response_class=FileResponse,
            responses={200: {"content": {"video/mp4": {}, "image/webp": {}, "image/jpeg": {}}}})
def download_video(request: Request, video_id: str,
                   variant: Literal["video", "thumbnail", "spritesheet"] = "video") -> FileResponse:
    from .previews import spritesheet, thumbnail

    studio = _studio(request)
    job = studio.job(video_id)
    path = studio.output_path(job)
    if variant == "thumbnail":
        return FileResponse(thumbnail(path, path.parent), media_type="image/webp")
    if variant == "spritesheet":
        return FileResponse(spritesheet(path, path.parent), media_type="image/jpeg")
    return FileResponse(path, media_type="video/mp4", filename=f"{video_id}.mp4")


@router.post("/videos/extensions", response_model=Video, openapi_extra=_body_doc(VideoExtendIn))
async def extend(request: Request) -> Video:
    """Continue a completed video by `seconds` (the new video's `seconds` is the stitched total)."""
    studio = _studio(request)
    body = _validate(VideoExtendIn, await read_body(request, studio))
    source_id, source_file = body.video.source(studio)
    job = await _off_loop(studio.submit_extend, source_id, body.seconds, body.prompt, source_file=source_file,
                          model=studio.job(source_id).model if source_id else "reelwright")
    return video_of(studio, job)


@router.post("/videos/edits", response_model=Video, openapi_extra=_body_doc(VideoEditIn))
async def edit(request: Request) -> Video:
    """Edit a completed video by request into a new video (tools where they suffice, regeneration of only the
    shots that must change)."""
    studio = _studio(request)
    body = _validate(VideoEditIn, await read_body(request, studio))
    source_id, source_file = body.video.source(studio)
    job = await _off_loop(studio.submit_edit, source_id, body.prompt, source_file=source_file,
                          model=studio.job(source_id).model if source_id else "reelwright")
    return video_of(studio, job)


@router.post("/videos/{video_id}/remix", response_model=Video)
def remix(request: Request, video_id: str, body: VideoRemixIn) -> Video:
    """The same length, size and generator, made again from a new prompt."""
    studio = _studio(request)
    job = studio.submit_remix(video_id, body.prompt, model=studio.job(video_id).model)
    return video_of(studio, job)
