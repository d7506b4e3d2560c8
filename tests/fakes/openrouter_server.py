"""A fake OpenRouter video API on 127.0.0.1, built from its documented protocol: `POST /api/v1/videos` → 202
`{id, polling_url, status}`; `GET /api/v1/videos/{id}` walks pending → in_progress → completed (with
`unsigned_urls`, `usage.cost`) | failed | cancelled | expired; `GET /api/v1/videos/{id}/content?index=0` streams
`video/mp4`; `GET /api/v1/videos/models` lists each model's supported values and prices.

Answers derive from the request: the clip lasts the asked `duration` at 24 fps, sized from `resolution` and
`aspect_ratio` (divided by `scale`, 8 by default, to keep tests fast), with sound only when `generate_audio` was true; the cost is the model's per-second price times
the duration. It refuses what OpenRouter refuses: no key, an unknown model, and any duration, resolution, aspect
ratio or frame type outside the model's listed sets (the docs: "only send values from the returned sets")."""

from __future__ import annotations

import itertools
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from reelwright.media.ffmpeg import run_ffmpeg

from .media_host import FakeHTTP, FakeService, Recorded

_ids = itertools.count(1)
FPS = 24
SHORT_SIDE = {"480p": 480, "720p": 720, "1080p": 1080}

MODELS: list[dict[str, Any]] = [
    {"id": "google/veo-3.1", "canonical_slug": "google/veo-3.1", "name": "Google: Veo 3.1", "created": 1760000000,
     "supported_durations": [4, 6, 8], "supported_resolutions": ["720p", "1080p"],
     "supported_aspect_ratios": ["16:9", "9:16"], "supported_sizes": ["1280x720", "720x1280", "1920x1080"],
     "supported_frame_images": ["first_frame", "last_frame"], "generate_audio": True, "seed": True,
     "creativity": None, "upscale_factor": None, "allowed_passthrough_parameters": [],
     "pricing_skus": {"per-video-second": "0.40", "per-video-second-1080p": "0.60"}},
    {"id": "alibaba/wan-2.6", "canonical_slug": "alibaba/wan-2.6", "name": "Alibaba: Wan 2.6", "created": 1762000000,
     "supported_durations": [5, 10], "supported_resolutions": ["480p", "720p"],
     "supported_aspect_ratios": ["16:9", "9:16", "1:1"], "supported_sizes": None,
     "supported_frame_images": ["first_frame"], "generate_audio": False, "seed": False, "creativity": None,
     "upscale_factor": None, "allowed_passthrough_parameters": [], "pricing_skus": {"per-video-second": "0.04"}},
]


def size_for(resolution: str, aspect: str, scale: int = 1) -> tuple[int, int]:
    """The pixels a model makes at `resolution` and `aspect`, divided by `scale` (tests keep clips small)."""
    short = SHORT_SIDE[resolution] // scale
    a, b = (int(x) for x in aspect.split(":"))
    long = round(short * max(a, b) / min(a, b) / 2) * 2
    return (long, short) if a >= b else (short, long)


def make_clip(folder: Path, seconds: int, width: int, height: int, audio: bool) -> Path:
    path = folder / f"or_{seconds}s_{width}x{height}{'_a' if audio else ''}.mp4"
    if path.exists():
        return path
    args = ["-f", "lavfi", "-i", f"testsrc2=size={width}x{height}:rate={FPS}"]
    if audio:
        args += ["-f", "lavfi", "-i", "sine=frequency=550:sample_rate=48000"]
    args += ["-frames:v", str(seconds * FPS), "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]
    if audio:
        args += ["-c:a", "aac", "-t", str(seconds)]
    run_ffmpeg(args + [str(path)])
    return path


@dataclass
class Job:
    id: str
    body: dict[str, Any]
    polls: int = 0
    status: str = "pending"
    path: Path | None = None
    downloads: int = 0


@dataclass
class OpenRouterFake(FakeService):
    """Knobs: `outcome` ('ok', 'failed', 'moderated', 'cancelled', 'expired', 'never'), `failure`,
    `pending_polls`, `report_cost` (False: completed jobs carry no usage.cost), `submit_failures` (queue of
    (status, message, retry_after)), `downloads` (the shared queue of `Download` behaviours for content GETs)."""

    workdir: Path
    api_key: str = "sk-or-test-key"
    outcome: str = "ok"
    failure: str = "Provider returned error"
    moderation: str = "The request was blocked by the provider's content moderation"
    pending_polls: int = 2
    report_cost: bool = True
    scale: int = 8  # outputs are made 1/scale of the real pixels per side (1: the real size)
    submit_failures: deque = field(default_factory=deque)
    jobs: dict[str, Job] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.http = FakeHTTP(guard=self._auth_error)
        self.http.route("GET", lambda p: p == "/api/v1/videos/models", self._models)
        self.http.route("POST", lambda p: p == "/api/v1/videos", self._submit)
        self.http.route("GET", lambda p: p.startswith("/api/v1/videos/") and p.endswith("/content"), self._content)
        self.http.route("GET", lambda p: p.startswith("/api/v1/videos/"), self._poll)

    @property
    def base_url(self) -> str:
        return self.url + "/api/v1"

    @property
    def submissions(self) -> list[Recorded]:
        return [r for r in self.http.log if r.method == "POST"]

    @staticmethod
    def _error(status: int, message: str, headers: dict | None = None) -> tuple[int, dict, Any]:
        return status, headers or {}, {"error": {"code": status, "message": message}}

    def _auth_error(self, req: Recorded) -> tuple[int, dict, Any] | None:
        if urlsplit(req.path).path == "/api/v1/videos/models":
            return None  # the model list is public
        if req.headers.get("authorization") != f"Bearer {self.api_key}":
            return self._error(401, "No auth credentials found")
        return None

    def _models(self, req: Recorded) -> tuple[int, dict, Any]:
        return 200, {}, {"data": MODELS}

    def _submit(self, req: Recorded) -> tuple[int, dict, Any]:
        if self.submit_failures:
            status, message, retry_after = self.submit_failures.popleft()
            return self._error(status, message, {"Retry-After": retry_after} if retry_after is not None else None)
        body = req.body if isinstance(req.body, dict) else None
        if body is None:
            return self._error(400, "Request body must be JSON")
        model = next((m for m in MODELS if m["id"] == body.get("model")), None)
        if model is None:
            return self._error(400, f"{body.get('model')} is not a valid model ID")
        if not body.get("prompt") and not body.get("frame_images"):
            return self._error(400, "prompt is required")
        checks = [("duration", "supported_durations"), ("resolution", "supported_resolutions"),
                  ("aspect_ratio", "supported_aspect_ratios")]
        for key, listed in checks:
            if key in body and body[key] not in model[listed]:
                return self._error(400, f"{key} {body[key]!r} is not supported by {model['id']}; "
                                        f"supported: {model[listed]}")
        for frame in body.get("frame_images", []):
            if frame.get("frame_type") not in model["supported_frame_images"]:
                return self._error(400, f"frame_type {frame.get('frame_type')!r} is not supported by {model['id']}")
            if not str(frame.get("image_url", {}).get("url", "")).startswith(("data:image/", "https://")):
                return self._error(400, "frame_images[].image_url.url must be an https or data URL")
        job = Job(f"gen-vid-{int(time.time())}-{next(_ids):020d}", body)
        self.jobs[job.id] = job
        return 202, {}, {"id": job.id, "polling_url": f"{self.base_url}/videos/{job.id}", "status": "pending"}

    def _job(self, req: Recorded) -> Job | None:
        parts = urlsplit(req.path).path.split("/")
        return self.jobs.get(parts[4]) if len(parts) > 4 else None

    def _poll(self, req: Recorded) -> tuple[int, dict, Any]:
        job = self._job(req)
        if job is None:
            return self._error(404, "Video generation job not found")
        base = {"id": job.id, "polling_url": f"{self.base_url}/videos/{job.id}"}
        if job.status in ("pending", "in_progress"):
            job.polls += 1
            if self.outcome == "never" or job.polls <= self.pending_polls:
                job.status = "pending" if job.polls == 1 else "in_progress"
            elif self.outcome in ("failed", "cancelled", "expired", "moderated"):
                job.status = "failed" if self.outcome == "moderated" else self.outcome
            else:
                b = job.body
                model = next(m for m in MODELS if m["id"] == b["model"])
                width, height = size_for(b.get("resolution", model["supported_resolutions"][0]),
                                         b.get("aspect_ratio", model["supported_aspect_ratios"][0]), self.scale)
                seconds = int(b.get("duration", model["supported_durations"][0]))
                job.path = make_clip(self.workdir, seconds, width, height, bool(b.get("generate_audio")))
                job.status = "completed"
        state = {**base, "status": job.status}
        if job.status == "failed":
            state["error"] = self.moderation if self.outcome == "moderated" else self.failure
        if job.status == "completed":
            content = f"{self.base_url}/videos/{job.id}/content?index=0"
            state.update(generation_id=f"gen-{job.id[-8:]}", unsigned_urls=[content])
            if self.report_cost:
                b = job.body
                model = next(m for m in MODELS if m["id"] == b["model"])
                skus = model["pricing_skus"]
                per = float(skus.get(f"per-video-second-{b.get('resolution')}", skus["per-video-second"]))
                state["usage"] = {"cost": round(per * int(b["duration"]), 6), "is_byok": False}
        return 200, {}, state

    def _content(self, req: Recorded) -> tuple[int, dict, Any]:
        job = self._job(req)
        if job is None:
            return self._error(404, "Video generation job not found")
        index = int(parse_qs(urlsplit(req.path).query).get("index", ["0"])[0])
        if job.status != "completed" or job.path is None:
            return self._error(409, f"Video generation job is {job.status}")
        if index != 0:
            return self._error(404, f"No output at index {index}")
        job.downloads += 1
        behaviour = self.http.downloads.popleft() if self.http.downloads else None
        if behaviour is not None and behaviour.mode == "expired":
            return self._error(behaviour.status, "The stored video is no longer available")
        headers = {"Content-Type": "video/mp4"}
        if behaviour is not None and behaviour.mode == "truncated":
            headers["X-Truncate"] = "1"
        return 200, headers, job.path.read_bytes()
