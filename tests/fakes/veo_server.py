"""A fake Google Veo service on 127.0.0.1: the Gemini API's `predictLongRunning` + operation
polling + key-guarded file download, and Vertex AI's `predictLongRunning` +
`fetchPredictOperation` with inline video bytes. Scriptable per test.

A submit body is checked against the documented `predictLongRunning` request (`body_issue`): known
fields only at every level (Google answers `Invalid JSON payload received. Unknown name "x" at '…':
Cannot find field.`), a string prompt, inline images as {bytesBase64Encoded, mimeType}, ≤ 3 asset or style
references, a last frame only with a first image, aspect ratio 16:9 or 9:16, 4/6/8 s, 720p/1080p/4k, a
known personGeneration; a body that breaks it is a 400 INVALID_ARGUMENT."""

from __future__ import annotations

import base64
import itertools
import re
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .media_host import FAKE_FPS, FakeHTTP, FakeService, Recorded, frame_size, make_mp4

_ids = itertools.count(1)
# What would send VeoGenerator to Vertex AI or to real Google credentials instead of this fake.
CLOUD_ENV = ("GOOGLE_CLOUD_PROJECT", "GOOGLE_CLOUD_LOCATION", "GOOGLE_GENAI_USE_VERTEXAI",
             "GOOGLE_APPLICATION_CREDENTIALS")


@dataclass
class HttpFailure:
    """Answer the next submit (or poll) with this Google error."""

    code: int
    status: str
    message: str
    retry_after: float | None = None


@dataclass
class Operation:
    name: str
    body: dict[str, Any]
    polls: int = 0
    seconds: float = 0.0
    size: tuple[int, int] = (1280, 720)


@dataclass
class VeoFake(FakeService):
    """Knobs: `outcome` ('ok', 'filtered', 'error', 'never'), `pending_polls`, `poll_hint`
    (Retry-After on pending polls), `submit_failures` / `poll_failures` (queues of HttpFailure),
    `error_message`, `extension_returns_full`, `extend_seconds`."""

    workdir: Path
    api_key: str = "test-gemini-key"
    token: str = "test-vertex-token"
    outcome: str = "ok"
    pending_polls: int = 2
    poll_hint: float | None = None
    error_message: str = "internal error while generating"
    filtered_reasons: list[str] = field(default_factory=lambda: ["The prompt could not be submitted: it violates usage guidelines."])
    extension_returns_full: bool = False
    extend_seconds: float = 7.0  # what an extension adds; tests shrink it to keep clips short
    submit_failures: deque = field(default_factory=deque)
    poll_failures: deque = field(default_factory=deque)
    operations: dict[str, Operation] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.http = FakeHTTP(file_key_header=("x-goog-api-key", self.api_key))
        self.http.route("POST", lambda p: p.startswith("/v1beta/models/") and p.endswith(":predictLongRunning"),
                        self._rest_submit)
        self.http.route("GET", lambda p: p.startswith("/v1beta/models/") and "/operations/" in p, self._rest_poll)
        self.http.route("POST", lambda p: p.startswith("/v1beta1/projects/") and p.endswith(":predictLongRunning"),
                        self._vertex_submit)
        self.http.route("POST", lambda p: p.startswith("/v1beta1/projects/") and p.endswith(":fetchPredictOperation"),
                        self._vertex_fetch)

    @property
    def submissions(self) -> list[Recorded]:
        return [r for r in self.http.log if r.path.endswith(":predictLongRunning")]

    def frames_served(self, name: str) -> int:
        return round(self.operations[name].seconds * FAKE_FPS)

    @staticmethod
    def _error(failure: HttpFailure) -> tuple[int, dict, Any]:
        headers = {"Retry-After": failure.retry_after} if failure.retry_after is not None else {}
        return failure.code, headers, {"error": {"code": failure.code, "message": failure.message,
                                                 "status": failure.status}}

    def _submit(self, req: Recorded, name_prefix: str) -> tuple[int, dict, Any]:
        if self.submit_failures:
            return self._error(self.submit_failures.popleft())
        issue = body_issue(req.body, vertex=name_prefix.startswith("projects/"))
        if issue is not None:
            return self._error(HttpFailure(400, "INVALID_ARGUMENT", issue))
        params = (req.body or {}).get("parameters", {})
        instance = ((req.body or {}).get("instances") or [{}])[0]
        seconds = float(params.get("durationSeconds") or 8)
        if "video" in instance:
            seconds = self.extend_seconds + (1.0 if self.extension_returns_full else 0.0)
        name = f"{name_prefix}/operations/op{next(_ids)}"
        size = frame_size(params.get("aspectRatio", "16:9"), params.get("resolution", "720p"))
        self.operations[name] = Operation(name, req.body, seconds=seconds, size=size)
        return 200, {}, {"name": name}

    def _state(self, name: str) -> tuple[Operation | None, tuple[int, dict, Any] | None]:
        if self.poll_failures:
            return None, self._error(self.poll_failures.popleft())
        op = self.operations.get(name)
        if op is None:
            return None, self._error(HttpFailure(404, "NOT_FOUND", f"operation {name} not found"))
        op.polls += 1
        if self.outcome == "never" or op.polls <= self.pending_polls:
            headers = {"Retry-After": self.poll_hint} if self.poll_hint is not None else {}
            return None, (200, headers, {"name": name, "done": False})
        if self.outcome == "error":
            return None, (200, {}, {"name": name, "done": True, "error": {"code": 13, "message": self.error_message}})
        return op, None

    # Gemini API (REST, API key)
    def _rest_submit(self, req: Recorded) -> tuple[int, dict, Any]:
        if req.headers.get("x-goog-api-key") != self.api_key:
            return self._error(HttpFailure(400, "INVALID_ARGUMENT", "API key not valid. Please pass a valid API key."))
        model = re.match(r"/v1beta/(models/[^:]+):predictLongRunning", req.path).group(1)
        return self._submit(req, model)

    def _rest_poll(self, req: Recorded) -> tuple[int, dict, Any]:
        if req.headers.get("x-goog-api-key") != self.api_key:
            return self._error(HttpFailure(400, "INVALID_ARGUMENT", "API key not valid."))
        name = req.path.removeprefix("/v1beta/")
        op, answer = self._state(name)
        if answer is not None:
            return answer
        response: dict[str, Any] = {"@type": "type.googleapis.com/google.ai.generativelanguage.v1beta."
                                             "PredictLongRunningResponse"}
        if self.outcome == "filtered":
            response["generateVideoResponse"] = {"raiMediaFilteredCount": 1,
                                                 "raiMediaFilteredReasons": self.filtered_reasons}
        else:
            file_id = name.rsplit("/", 1)[-1]
            uri = self.http.host_file(f"{file_id}.mp4", make_mp4(self.workdir, op.seconds, size=op.size))
            response["generateVideoResponse"] = {"generatedSamples": [{"video": {"uri": f"{uri}:download?alt=media"}}]}
        return 200, {}, {"name": name, "done": True, "response": response}

    # Vertex AI (google-genai, OAuth bearer token)
    def _vertex_submit(self, req: Recorded) -> tuple[int, dict, Any]:
        if req.headers.get("authorization") != f"Bearer {self.token}":
            return self._error(HttpFailure(401, "UNAUTHENTICATED", "Request had invalid authentication credentials."))
        resource = re.match(r"/v1beta1/(projects/.+):predictLongRunning", req.path).group(1)
        return self._submit(req, resource)

    def _vertex_fetch(self, req: Recorded) -> tuple[int, dict, Any]:
        name = (req.body or {}).get("operationName", "")
        op, answer = self._state(name)
        if answer is not None:
            return answer
        response: dict[str, Any] = {"@type": "type.googleapis.com/cloud.ai.large_models.vision.GenerateVideoResponse"}
        if self.outcome == "filtered":
            response.update({"raiMediaFilteredCount": 1, "raiMediaFilteredReasons": self.filtered_reasons})
        else:
            data = make_mp4(self.workdir, op.seconds, size=op.size).read_bytes()
            response["videos"] = [{"bytesBase64Encoded": base64.b64encode(data).decode(), "mimeType": "video/mp4"}]
        return 200, {}, {"name": name, "done": True, "response": response}


REST_PARAMETERS = {"aspectRatio", "durationSeconds", "negativePrompt", "personGeneration", "resolution",
                   "sampleCount", "seed"}
# Vertex AI takes these besides (google-genai's GenerateVideosConfig sends some of them).
VERTEX_PARAMETERS = REST_PARAMETERS | {"generateAudio", "enhancePrompt", "storageUri", "compressionQuality",
                                       "resizeMode"}
IMAGE_FIELDS = {"bytesBase64Encoded", "gcsUri", "mimeType"}


def _unknown(obj: dict, allowed: set[str], where: str) -> str | None:
    for key in obj:
        if key not in allowed:
            return f'Invalid JSON payload received. Unknown name "{key}" at \'{where}\': Cannot find field.'
    return None


def _image_issue(image: Any, where: str) -> str | None:
    if not isinstance(image, dict):
        return f"{where} must be an object"
    unknown = _unknown(image, IMAGE_FIELDS, where)
    if unknown:
        return unknown
    if not isinstance(image.get("bytesBase64Encoded", image.get("gcsUri")), str):
        return f"{where} needs bytesBase64Encoded or gcsUri"
    if image.get("mimeType") not in ("image/png", "image/jpeg", "image/webp"):
        return f"{where}.mimeType {image.get('mimeType')!r} is not supported"
    return None


def body_issue(body: Any, *, vertex: bool = False) -> str | None:
    """Why Google would refuse this predictLongRunning body (None when it would take it)."""
    if not isinstance(body, dict):
        return "Invalid JSON payload received."
    unknown = _unknown(body, {"instances", "parameters"}, "")
    if unknown:
        return unknown
    instances, params = body.get("instances"), body.get("parameters", {})
    if not isinstance(instances, list) or len(instances) != 1 or not isinstance(instances[0], dict):
        return "instances must hold exactly one instance"
    if not isinstance(params, dict):
        return "parameters must be an object"
    inst = instances[0]
    unknown = (_unknown(inst, {"prompt", "image", "lastFrame", "referenceImages", "video"}, "instances[0]")
               or _unknown(params, VERTEX_PARAMETERS if vertex else REST_PARAMETERS, "parameters"))
    if unknown:
        return unknown
    if not isinstance(inst.get("prompt"), str) or not inst["prompt"].strip():
        return "instances[0].prompt is required"
    for key in ("image", "lastFrame"):
        if key in inst and (issue := _image_issue(inst[key], f"instances[0].{key}")):
            return issue
    if "lastFrame" in inst and "image" not in inst:
        return "lastFrame is supported only together with image"
    refs = inst.get("referenceImages", [])
    if not isinstance(refs, list) or len(refs) > 3:
        return "referenceImages takes at most 3 images"
    for i, ref in enumerate(refs):
        where = f"instances[0].referenceImages[{i}]"
        if not isinstance(ref, dict) or (issue := _unknown(ref, {"image", "referenceType"}, where)):
            return issue or f"{where} must be an object"
        if ref.get("referenceType") not in ("asset", "style") or (issue := _image_issue(ref.get("image"), where)):
            return issue or f"{where}.referenceType must be asset or style"
    if "video" in inst and (not isinstance(inst["video"], dict)
                            or _unknown(inst["video"], {"uri", "gcsUri", "bytesBase64Encoded", "mimeType"}, "video")):
        return "instances[0].video must be {uri} or inline bytes"
    duration = params.get("durationSeconds")
    if duration is not None and (isinstance(duration, bool) or str(duration) not in ("4", "6", "8")):
        return f"durationSeconds {duration!r} is not supported: use 4, 6 or 8"
    checks = (("aspectRatio", ("16:9", "9:16")), ("resolution", ("720p", "1080p", "4k")),
              ("personGeneration", ("allow_all", "allow_adult", "dont_allow")))
    for key, allowed in checks:
        if key in params and params[key] not in allowed:
            return f"{key} {params[key]!r} is not supported: use one of {', '.join(allowed)}"
    if "sampleCount" in params and params["sampleCount"] not in (1, 2, 3, 4):
        return "sampleCount must be 1 to 4"
    return None
