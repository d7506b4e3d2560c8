"""A fake Replicate HTTP API on 127.0.0.1 that follows the documented protocol: model
predictions, polling, cancel, file uploads, RFC 7807 errors, and real MP4 outputs.

    POST /v1/models/{owner}/{name}/predictions  {input}  (Prefer: wait finishes at once)
    GET  /v1/predictions/{id}      starting -> processing (logs) -> succeeded | failed | canceled
    POST /v1/predictions/{id}/cancel
    POST /v1/files                 multipart upload -> {id, urls:{get}}

A create body is checked as the API checks it: the documented envelope (`input` required, only `input`,
`webhook`, `webhook_events_filter`, `stream`), then `input` against the model's published input schema
where this fake holds one (`INPUT_SCHEMAS`, transcribed from the model pages: types, ranges, enums, required
fields, no unknown inputs) — a 422 problem whose detail lists `- input.<field>: <reason>` lines.
"""

from __future__ import annotations

import itertools
import re
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema

from tests.fakes.media_host import FakeHTTP, FakeService, Recorded, frame_size, make_mp4

TOKEN = "r8_fake_token_for_tests"
MODERATION_ERROR = "The input or output was flagged as sensitive. Please try again with different inputs. (E005)"
_PRED = re.compile(r"^/v1/predictions/([^/]+)$")
_CANCEL = re.compile(r"^/v1/predictions/([^/]+)/cancel$")
_CREATE = re.compile(r"^/v1/models/([^/]+)/([^/]+)/predictions$")


_WAN_FAST = {
    "prompt": {"type": "string", "minLength": 1},
    "num_frames": {"type": "integer", "minimum": 81, "maximum": 121},
    "resolution": {"enum": ["480p", "720p"]},
    "frames_per_second": {"type": "integer", "minimum": 5, "maximum": 30},
    "go_fast": {"type": "boolean"},
    "sample_shift": {"type": "number", "minimum": 1, "maximum": 20},
    "seed": {"type": "integer"},
    "disable_safety_checker": {"type": "boolean"},
    "interpolate_output": {"type": "boolean"},
    "optimize_prompt": {"type": "boolean"},
    "lora_weights_transformer": {"type": "string"},
    "lora_scale_transformer": {"type": "number"},
    "lora_weights_transformer_2": {"type": "string"},
    "lora_scale_transformer_2": {"type": "number"},
}
# Input schemas of the models the tests drive (JSON Schema, as Replicate publishes each model's `Input`).
INPUT_SCHEMAS: dict[str, dict[str, Any]] = {
    "wan-video/wan-2.2-t2v-fast": {
        "type": "object", "additionalProperties": False, "required": ["prompt"],
        "properties": {**_WAN_FAST, "aspect_ratio": {"enum": ["16:9", "9:16"]}}},
    "wan-video/wan-2.2-i2v-fast": {
        "type": "object", "additionalProperties": False, "required": ["prompt", "image"],
        "properties": {**_WAN_FAST, "image": {"type": "string", "format": "uri"},
                       "last_image": {"type": "string", "format": "uri"}}},
}
ENVELOPE = {"type": "object", "additionalProperties": False, "required": ["input"],
            "properties": {"input": {"type": "object"}, "webhook": {"type": "string"}, "stream": {"type": "boolean"},
                           "webhook_events_filter": {"type": "array", "items": {
                               "enum": ["start", "output", "logs", "completed"]}}}}


def input_problems(model: str, body: Any) -> list[str]:
    """`- input.<field>: <reason>` lines for what the API would refuse in this create body."""
    lines = [f"- {'.'.join(map(str, e.absolute_path)) or 'body'}: {e.message}"
             for e in jsonschema.Draft202012Validator(ENVELOPE).iter_errors(body)]
    if lines:
        return lines
    schema = INPUT_SCHEMAS.get(model)
    if schema is None:
        return []  # a model this fake has no schema for: its inputs are taken as sent
    return [f"- input{''.join('.' + str(p) for p in e.absolute_path)}: {e.message}"
            for e in sorted(jsonschema.Draft202012Validator(schema).iter_errors(body["input"]), key=str)]


def clip_size(model: str, inputs: dict[str, Any]) -> tuple[int, int]:
    """The frame size a model makes for these inputs (its resolution and aspect inputs; 480p 16:9 unset)."""
    resolution = inputs.get("resolution")
    resolution = resolution if resolution in ("480p", "540p", "580p", "720p", "768p", "1080p") else "480p"
    aspect = inputs.get("aspect_ratio") if inputs.get("aspect_ratio") in ("16:9", "9:16", "1:1") else "16:9"
    return frame_size(aspect, resolution, wan=model.startswith("wan-video/"))


def problem(status: int, title: str, detail: str) -> dict[str, Any]:
    return {"type": "https://replicate.com/docs/reference/http#errors", "title": title, "status": status,
            "detail": detail}


@dataclass
class FakeReplicate(FakeService):
    """Scenario knobs: `create_errors` (queue of (status, title, detail, headers) answered to
    the next creates), `outcome` of new predictions ('succeeded' | 'failed' | 'moderated' |
    'never'), `polls_to_finish`, `output_as_list`, `cost` (put in metrics when set),
    `default_fps` (for inputs without an fps), and `downloads` on the media host."""

    folder: Path
    token: str = TOKEN
    polls_to_finish: int = 2
    outcome: str = "succeeded"
    output_as_list: bool = False
    cost: float | None = None
    default_fps: int = 24
    create_errors: deque = field(default_factory=deque)
    predictions: dict[str, dict[str, Any]] = field(default_factory=dict)
    uploads: list[bytes] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.http = FakeHTTP(guard=self._denied)
        self._ids = itertools.count(1)
        self.http.route("POST", lambda p: bool(_CREATE.match(p)), self._create)
        self.http.route("POST", lambda p: bool(_CANCEL.match(p)), self._cancel)
        self.http.route("GET", lambda p: bool(_PRED.match(p)), self._get)
        self.http.route("POST", lambda p: p == "/v1/files", self._upload)

    def _denied(self, req: Recorded) -> tuple[int, dict, Any] | None:
        if req.headers.get("authorization") != f"Bearer {self.token}":
            return 401, {"Content-Type": "application/problem+json"}, problem(
                401, "Unauthenticated", "You did not pass a valid authentication token")
        return None

    def _create(self, req: Recorded) -> tuple[int, dict, Any]:
        if self.create_errors:
            status, title, detail, headers = self.create_errors.popleft()
            return status, {"Content-Type": "application/problem+json", **headers}, problem(status, title, detail)
        owner, name = _CREATE.match(req.path.split("?")[0]).groups()
        issues = input_problems(f"{owner}/{name}", req.body)
        if issues:
            return 422, {}, problem(422, "Input validation failed", "\n".join(issues))
        body = req.body
        pid = f"fake{next(self._ids):04d}"
        pred = {
            "id": pid, "model": f"{owner}/{name}", "version": "hidden", "input": body["input"], "logs": "",
            "output": None, "error": None, "status": "starting", "created_at": "2026-11-01T00:00:00Z",
            "started_at": None, "completed_at": None, "data_removed": False, "metrics": {},
            "urls": {"get": f"{self.url}/v1/predictions/{pid}", "cancel": f"{self.url}/v1/predictions/{pid}/cancel"},
            "_polls": 0, "_outcome": self.outcome,
        }
        self.predictions[pid] = pred
        if req.headers.get("prefer", "").startswith("wait"):
            self._advance(pred, finish=True)
        return 201, {}, self._public(pred)

    def _get(self, req: Recorded) -> tuple[int, dict, Any]:
        pred = self.predictions.get(_PRED.match(req.path.split("?")[0]).group(1))
        if pred is None:
            return 404, {}, problem(404, "Not found", "The requested resource could not be found.")
        self._advance(pred)
        return 200, {}, self._public(pred)

    def _cancel(self, req: Recorded) -> tuple[int, dict, Any]:
        pred = self.predictions.get(_CANCEL.match(req.path.split("?")[0]).group(1))
        if pred is None:
            return 404, {}, problem(404, "Not found", "The requested resource could not be found.")
        if pred["status"] in ("starting", "processing"):
            pred["status"] = "canceled"
            pred["completed_at"] = "2026-11-01T00:01:00Z"
        return 200, {}, self._public(pred)

    def _upload(self, req: Recorded) -> tuple[int, dict, Any]:
        raw = req.body if isinstance(req.body, bytes) else b""
        self.uploads.append(raw)
        fid = f"file{len(self.uploads)}"
        name = re.search(rb'filename="([^"]+)"', raw)
        return 201, {}, {
            "id": fid, "name": name.group(1).decode() if name else "file", "content_type": "image/png",
            "size": len(raw), "etag": "x", "checksums": {}, "metadata": {}, "created_at": "2026-11-01T00:00:00Z",
            "expires_at": None, "urls": {"get": f"{self.url}/v1/files/{fid}"},
        }

    def _advance(self, pred: dict[str, Any], finish: bool = False) -> None:
        if pred["status"] not in ("starting", "processing"):
            return
        pred["_polls"] += 1
        outcome = pred["_outcome"]
        if outcome == "never" or (not finish and pred["_polls"] < self.polls_to_finish):
            pred["status"] = "processing"
            pred["started_at"] = "2026-11-01T00:00:01Z"
            pred["logs"] = " 50%|#####     | 1/2 [00:01<00:01]\n"
            return
        pred["completed_at"] = "2026-11-01T00:00:30Z"
        if outcome == "moderated":
            pred["status"], pred["error"] = "failed", MODERATION_ERROR
            return
        if outcome == "failed":
            pred["status"], pred["error"] = "failed", "CUDA out of memory"
            return
        seconds, fps = self.clip_shape(pred["input"])
        size = clip_size(pred["model"], pred["input"])
        url = self.http.host_file(f"{pred['id']}.mp4", make_mp4(self.folder, seconds, fps=fps, size=size))
        pred["status"] = "succeeded"
        pred["logs"] += "100%|##########| 2/2 [00:02<00:00]\n"
        pred["output"] = [url] if self.output_as_list else url
        pred["metrics"] = {"predict_time": 2.5, **({"cost": self.cost} if self.cost is not None else {})}

    def clip_shape(self, inputs: dict[str, Any]) -> tuple[float, int]:
        """(seconds, fps) of the clip a model would make for these inputs."""
        fps = int(inputs.get("frames_per_second") or inputs.get("fps") or self.default_fps)
        frames = inputs.get("num_frames") or inputs.get("length")
        if frames:
            return int(frames) / fps, fps
        return float(inputs.get("duration") or 6), fps

    @staticmethod
    def _public(pred: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in pred.items() if not k.startswith("_")}
