"""A fake vLLM-Omni `/v1/videos` server on 127.0.0.1, built from its documented API (docs/serving/videos_api.md
and the request model in protocol/videos.py): multipart create → async job (queued → in_progress → completed |
failed) → `GET /v1/videos/{id}/content`; list, delete, `GET /v1/models`.

Each answer derives from the request: the clip has the frames the request asked for (`num_frames`, else
`seconds × fps`, else the model's default), rounded the way a Wan pipeline rounds them (4k+1), at the asked fps
and size. It refuses what the real server refuses: a body that is not multipart, a missing prompt, `seconds`
that is not a whole number, a malformed `size`, out-of-range steps or guidance, `image_reference` together with
`input_reference`, a model it does not serve, a wrong key; a size the model cannot make fails the job."""

from __future__ import annotations

import email.parser
import email.policy
import itertools
import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reelwright.media.ffmpeg import run_ffmpeg

from .media_host import FakeHTTP, FakeService, Recorded

_ids = itertools.count(1)


@dataclass
class Form:
    fields: dict[str, str]
    files: dict[str, tuple[str, str, bytes]]  # name -> (filename, content type, bytes)


def parse_multipart(req: Recorded) -> Form | None:
    """The form of a multipart/form-data request; None when the body is not one."""
    ctype = req.headers.get("content-type", "")
    if not ctype.startswith("multipart/form-data") or not isinstance(req.body, (bytes, bytearray)):
        return None
    head = f"Content-Type: {ctype}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + bytes(req.body))
    if not msg.is_multipart():
        return None
    form = Form({}, {})
    for part in msg.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True) or b""
        filename = part.get_filename()
        if filename is not None:
            form.files[name] = (filename, part.get_content_type(), payload)
        else:
            form.fields[name] = payload.decode("utf-8")
    return form


def make_clip(folder: Path, frames: int, fps: int, width: int, height: int, audio: bool) -> Path:
    path = folder / f"omni_{frames}f_{fps}fps_{width}x{height}{'_a' if audio else ''}.mp4"
    if path.exists():
        return path
    args = ["-f", "lavfi", "-i", f"testsrc2=size={width}x{height}:rate={fps}"]
    if audio:
        args += ["-f", "lavfi", "-i", "sine=frequency=330:sample_rate=48000"]
    args += ["-frames:v", str(frames), "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]
    if audio:
        args += ["-c:a", "aac", "-t", f"{frames / fps:.6f}"]
    run_ffmpeg(args + [str(path)])
    return path


@dataclass
class Job:
    id: str
    form: Form
    frames: int
    fps: int
    width: int
    height: int
    created_at: int
    polls: int = 0
    status: str = "queued"
    error: dict[str, Any] | None = None
    path: Path | None = None


@dataclass
class OmniFake(FakeService):
    """Knobs: `model` (the one served), `api_key` (None: no auth, like `vllm serve` without --api-key),
    `outcome` ('ok', 'failed', 'moderated', 'never'), `failure` (the failed job's message), `pending_polls`,
    `downloads` (the shared queue of `Download` behaviours for the next content GETs: whole, expired with a
    status, truncated), `create_failures` (queue of (status, message) or (status, message, retry_after))."""

    workdir: Path
    model: str = "Wan-AI/Wan2.2-T2V-A14B-Diffusers"
    api_key: str | None = None
    outcome: str = "ok"
    failure: str = "CUDA out of memory"
    moderation: str = "Prompt rejected by the safety checker"
    pending_polls: int = 2
    default_frames: int = 81  # the Wan pipeline's default when neither num_frames nor seconds is sent
    default_fps: int = 24  # vLLM-Omni's DEFAULT_FPS
    multiple: int = 16  # Wan: height and width must be divisible by 16
    frame_step: int = 4  # Wan rounds num_frames to 4k+1
    create_failures: deque = field(default_factory=deque)
    jobs: dict[str, Job] = field(default_factory=dict)
    live: int = 0  # jobs created and not yet deleted: a client that deletes when done has this many in flight
    max_live: int = 0

    def __post_init__(self) -> None:
        self._live_lock = threading.Lock()
        self.http = FakeHTTP(guard=self._auth_error)
        self.http.route("GET", lambda p: p == "/v1/models", self._models)
        self.http.route("POST", lambda p: p == "/v1/videos", self._create)
        self.http.route("GET", lambda p: p == "/v1/videos", self._list)
        self.http.route("GET", lambda p: p.startswith("/v1/videos/") and p.endswith("/content"), self._content)
        self.http.route("GET", lambda p: p.startswith("/v1/videos/"), self._retrieve)
        self.http.route("DELETE", lambda p: p.startswith("/v1/videos/"), self._delete)

    @property
    def base_url(self) -> str:
        return self.url + "/v1"

    @property
    def creates(self) -> list[Recorded]:
        return [r for r in self.http.log if r.method == "POST" and r.path == "/v1/videos"]

    def form(self, index: int = 0) -> Form:
        form = parse_multipart(self.creates[index])
        assert form is not None
        return form

    # ------------------------------------------------------------------ routes
    def _auth_error(self, req: Recorded) -> tuple[int, dict, Any] | None:
        if self.api_key is not None and req.headers.get("authorization") != f"Bearer {self.api_key}":
            return 401, {}, {"error": "Unauthorized"}
        return None

    def _models(self, req: Recorded) -> tuple[int, dict, Any]:
        return 200, {}, {"object": "list", "data": [{"id": self.model, "object": "model", "created": 1764000000,
                                                     "owned_by": "vllm-omni", "root": self.model}]}

    @staticmethod
    def _invalid(loc: str, msg: str) -> tuple[int, dict, Any]:
        return 422, {}, {"detail": [{"type": "value_error", "loc": ["body", loc], "msg": msg}]}

    def _create(self, req: Recorded) -> tuple[int, dict, Any]:
        if self.create_failures:
            status, message, *hint = self.create_failures.popleft()
            headers = {"Retry-After": hint[0]} if hint and hint[0] is not None else {}
            return status, headers, {"error": {"message": message, "type": "error", "code": status}}
        form = parse_multipart(req)
        if form is None:
            return self._invalid("prompt", "Field required (the endpoint takes multipart/form-data)")
        f = form.fields
        if not f.get("prompt"):
            return self._invalid("prompt", "Field required")
        model = f.get("model")
        if model and model != self.model:
            return 404, {}, {"error": {"message": f"The model `{model}` does not exist.", "type": "NotFoundError",
                                       "code": 404}}
        if "seconds" in f and not (f["seconds"].isdigit() and not f["seconds"].startswith("0")):
            return self._invalid("seconds", "String should match pattern '^[1-9]\\d*$'")
        size = f.get("size")
        if size is not None:
            w, _, h = size.partition("x")
            if not (w.isdigit() and h.isdigit()):
                return self._invalid("size", "String should match pattern '^\\d+x\\d+$'")
        ints: dict[str, int] = {}
        for name, lo, hi in (("num_frames", 1, None), ("fps", 1, None), ("width", 1, None), ("height", 1, None),
                             ("num_inference_steps", 1, 200), ("seed", None, None)):
            if name in f:
                try:
                    ints[name] = int(f[name])
                except ValueError:
                    return self._invalid(name, "Input should be a valid integer, unable to parse string as an integer")
                if (lo is not None and ints[name] < lo) or (hi is not None and ints[name] > hi):
                    return self._invalid(name, f"Input should be between {lo} and {hi}")
        if "guidance_scale" in f:
            try:
                g = float(f["guidance_scale"])
            except ValueError:
                return self._invalid("guidance_scale", "Input should be a valid number")
            if not 0.0 <= g <= 20.0:
                return self._invalid("guidance_scale", "Input should be less than or equal to 20")
        if "image_reference" in f:
            if "input_reference" in form.files:
                return 400, {}, {"error": {"message": "image_reference cannot be combined with input_reference",
                                           "type": "BadRequestError", "code": 400}}
            try:
                ref = json.loads(f["image_reference"])
            except ValueError:
                return self._invalid("image_reference", "Invalid JSON")
            if not isinstance(ref, dict) or set(ref) - {"image_url", "file_id"} or not ref:
                return self._invalid("image_reference", "Extra inputs are not permitted")
        fps = ints.get("fps", self.default_fps)
        width, height = (int(x) for x in size.split("x")) if size else (ints.get("width", 832), ints.get("height", 480))
        frames = ints.get("num_frames") or (int(f["seconds"]) * fps if "seconds" in f else self.default_frames)
        if (frames - 1) % self.frame_step:
            frames = (frames - 1) // self.frame_step * self.frame_step + 1  # what WanPipeline does (with a warning)
        job = Job(f"video_gen_{next(_ids):06d}", form, max(1, frames), fps, width, height, int(time.time()))
        self.jobs[job.id] = job
        with self._live_lock:
            self.live += 1
            self.max_live = max(self.max_live, self.live)
        return 200, {}, self._record(job)

    def _record(self, job: Job) -> dict[str, Any]:
        f = job.form.fields
        seconds = f.get("seconds") or str(max(1, round(job.frames / job.fps)))
        rec = {"id": job.id, "object": "video", "status": job.status, "model": self.model, "prompt": f["prompt"],
               "size": f"{job.width}x{job.height}", "seconds": seconds, "quality": "default",
               "progress": 100 if job.status == "completed" else min(95, job.polls * 30),
               "created_at": job.created_at, "completed_at": None, "expires_at": None, "error": job.error,
               "remixed_from_video_id": None, "media_type": "video/mp4"}
        if job.status == "completed":
            rec.update(completed_at=job.created_at + 1, inference_time_s=1.25, file_name=f"{job.id}.mp4")
        return rec

    def _job(self, req: Recorded) -> Job | None:
        parts = req.path.split("?")[0].split("/")
        return self.jobs.get(parts[3]) if len(parts) > 3 else None

    def _retrieve(self, req: Recorded) -> tuple[int, dict, Any]:
        job = self._job(req)
        if job is None:
            return 404, {}, {"error": {"message": "Video not found", "type": "NotFoundError", "code": 404}}
        if job.status in ("queued", "in_progress"):
            job.polls += 1
            if self.outcome == "never" or job.polls <= self.pending_polls:
                job.status = "queued" if job.polls == 1 else "in_progress"
            elif self.outcome == "failed":
                job.status, job.error = "failed", {"code": "generation_failed", "message": self.failure}
            elif self.outcome == "moderated":
                job.status, job.error = "failed", {"code": "content_filter", "message": self.moderation}
            elif job.width % self.multiple or job.height % self.multiple:
                job.status = "failed"
                job.error = {"code": "generation_failed", "message": f"`height` and `width` have to be divisible "
                             f"by {self.multiple} but are {job.height} and {job.width}."}
            else:
                audio = job.form.fields.get("generate_sound", "false").lower() == "true"
                job.path = make_clip(self.workdir, job.frames, job.fps, job.width, job.height, audio)
                job.status = "completed"
        return 200, {}, self._record(job)

    def _list(self, req: Recorded) -> tuple[int, dict, Any]:
        data = [self._record(j) for j in self.jobs.values()]
        return 200, {}, {"object": "list", "data": data, "first_id": data[0]["id"] if data else None,
                         "last_id": data[-1]["id"] if data else None, "has_more": False}

    def _content(self, req: Recorded) -> tuple[int, dict, Any]:
        job = self._job(req)
        if job is None:
            return 404, {}, {"error": {"message": "Video not found", "type": "NotFoundError", "code": 404}}
        if job.status != "completed" or job.path is None:
            return 400, {}, {"error": {"message": f"Video {job.id} is not completed (status: {job.status})",
                                       "type": "BadRequestError", "code": 400}}
        behaviour = self.http.downloads.popleft() if self.http.downloads else None
        if behaviour is not None and behaviour.mode == "expired":
            return behaviour.status, {}, {"error": {"message": "Video content is no longer stored",
                                                    "type": "NotFoundError", "code": behaviour.status}}
        data = job.path.read_bytes()
        headers = {"Content-Type": "video/mp4"}
        if behaviour is not None and behaviour.mode == "truncated":
            headers["X-Truncate"] = "1"
        return 200, headers, data

    def _delete(self, req: Recorded) -> tuple[int, dict, Any]:
        job = self._job(req)
        if job is None:
            return 404, {}, {"error": {"message": "Video not found", "type": "NotFoundError", "code": 404}}
        del self.jobs[job.id]
        with self._live_lock:
            self.live -= 1
        return 200, {}, {"id": job.id, "deleted": True, "object": "video.deleted"}
