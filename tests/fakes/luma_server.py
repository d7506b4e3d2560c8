"""A fake Luma Dream Machine API on 127.0.0.1 following the documented protocol, serving real MP4s.

    POST /dream-machine/v1/generations/video  {model, prompt, aspect_ratio, duration:"5s", resolution,
                                               loop, keyframes:{frame0, frame1}}  -> Generation (queued)
    GET  /dream-machine/v1/generations/{id}   queued -> dreaming -> completed (assets.video) | failed
    DELETE /dream-machine/v1/generations/{id}
Errors are `{"detail": "…"}`; keyframes of type "generation" must name a completed generation.
A create body is checked against the lumaai SDK's own typed parameters (`GenerationCreateParams`: unknown
fields, required model, aspect-ratio literals, keyframe shapes) and refused with 422 `{"detail": [...]}`
(FastAPI's validation shape) when it breaks them; ray-2's documented durations (5s, 9s) give a 400.
"""

from __future__ import annotations

import uuid
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lumaai.types.generation_create_params import GenerationCreateParams

from tests.fakes.media_host import FakeHTTP, FakeService, Recorded, frame_size, make_mp4
from tests.fakes.sdk_params import problems

KEY = "luma-fake-key-for-tests"
BASE = "/dream-machine/v1"
MODERATION_REASON = "400: prompt not allowed because advanced moderation failed"


@dataclass
class FakeLuma(FakeService):
    """Scenario knobs: `create_errors` (queue of (status, detail, headers) for the next creates),
    `outcome` ('completed' | 'moderated' | 'failed' | 'never'), `polls_to_finish`, `fps`,
    `extension_includes_source` (an extension's video = source + new seconds), and `downloads`. `base_url` is what `LumaAI(base_url=…)` takes."""

    folder: Path
    key: str = KEY
    polls_to_finish: int = 2
    outcome: str = "completed"
    fps: int = 24
    extension_includes_source: bool = True
    create_errors: deque = field(default_factory=deque)
    generations: dict[str, dict[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.http = FakeHTTP(guard=self._denied)
        self.http.route("POST", lambda p: p == f"{BASE}/generations/video", self._create)
        self.http.route("GET", lambda p: p.startswith(f"{BASE}/generations/"), self._get)
        self.http.route("DELETE", lambda p: p.startswith(f"{BASE}/generations/"), self._delete)

    @property
    def base_url(self) -> str:
        return f"{self.http.url}{BASE}"

    def completed(self, seconds: float = 5) -> str:
        """Add a finished generation (something to extend) and return its id."""
        gid = str(uuid.uuid4())
        self.generations[gid] = {"id": gid, "state": "completed", "polls": 0, "outcome": "completed",
                                 "request": {"model": "ray-2", "duration": f"{seconds:g}s"},
                                 "assets": {"video": self.http.host_file(f"{gid}.mp4", make_mp4(self.folder, seconds, fps=self.fps))}}
        return gid

    def _denied(self, req: Recorded) -> tuple[int, dict, Any] | None:
        if req.headers.get("authorization") != f"Bearer {self.key}":
            return 401, {}, {"detail": "Invalid API key"}
        return None

    def _create(self, req: Recorded) -> tuple[int, dict, Any]:
        if self.create_errors:
            status, detail, headers = self.create_errors.popleft()
            return status, headers, {"detail": detail}
        issues = problems(req.body, GenerationCreateParams)
        if issues:
            return 422, {}, {"detail": [{"loc": ["body", *path.split(".")[1:]], "msg": message, "type": "value_error"}
                                        for path, message in (i.split(": ", 1) for i in issues)]}
        body = req.body
        if body.get("model") not in ("ray-2", "ray-flash-2"):
            return 400, {}, {"detail": f"Invalid model: {body.get('model')!r}"}
        if body.get("duration", "5s") not in ("5s", "9s"):
            return 400, {}, {"detail": f"Invalid duration: {body.get('duration')!r}"}
        for name, frame in (body.get("keyframes") or {}).items():
            if frame.get("type") == "generation":
                source = self.generations.get(frame.get("id"))
                if source is None or source["state"] != "completed":
                    return 400, {}, {"detail": f"{name}: generation {frame.get('id')!r} not found or not completed"}
            elif frame.get("type") != "image" or not str(frame.get("url", "")).startswith(("http://", "https://")):
                return 400, {}, {"detail": f"{name}: an image keyframe needs a public http(s) url"}
        gid = str(uuid.uuid4())
        self.generations[gid] = {"id": gid, "state": "queued", "polls": 0, "outcome": self.outcome, "request": body,
                                 "assets": None}
        return 201, {}, self._public(self.generations[gid])

    def _get(self, req: Recorded) -> tuple[int, dict, Any]:
        gen = self.generations.get(req.path.rsplit("/", 1)[-1])
        if gen is None:
            return 404, {}, {"detail": "Generation not found"}
        self._advance(gen)
        return 200, {}, self._public(gen)

    def _delete(self, req: Recorded) -> tuple[int, dict, Any]:
        gen = self.generations.pop(req.path.rsplit("/", 1)[-1], None)
        return (204, {}, b"") if gen else (404, {}, {"detail": "Generation not found"})

    def _advance(self, gen: dict[str, Any]) -> None:
        if gen["state"] in ("completed", "failed"):
            return
        gen["polls"] += 1
        if gen["outcome"] == "never" or gen["polls"] < self.polls_to_finish:
            gen["state"] = "dreaming"
            return
        if gen["outcome"] == "moderated":
            gen["state"], gen["failure_reason"] = "failed", MODERATION_REASON
            return
        if gen["outcome"] == "failed":
            gen["state"], gen["failure_reason"] = "failed", "500: internal error while dreaming"
            return
        seconds = float(str(gen["request"].get("duration", "5s")).rstrip("s"))
        frame0 = (gen["request"].get("keyframes") or {}).get("frame0") or {}
        if frame0.get("type") == "generation" and self.extension_includes_source:
            source = self.generations[frame0["id"]]["request"]
            seconds += float(str(source.get("duration", "5s")).rstrip("s"))
        gen["state"] = "completed"
        size = frame_size(gen["request"].get("aspect_ratio", "16:9"), gen["request"].get("resolution", "720p"))
        video = make_mp4(self.folder, seconds, fps=self.fps, size=size)
        gen["assets"] = {"video": self.http.host_file(f"{gen['id']}.mp4", video),
                         "image": None, "progress_video": None}

    @staticmethod
    def _public(gen: dict[str, Any]) -> dict[str, Any]:
        return {"id": gen["id"], "state": gen["state"], "failure_reason": gen.get("failure_reason"),
                "generation_type": "video", "model": gen["request"].get("model"), "assets": gen["assets"],
                "created_at": "2026-11-01T00:00:00Z",
                "request": {"generation_type": "video", **gen["request"]}}
