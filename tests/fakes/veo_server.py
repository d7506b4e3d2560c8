"""A fake Google Veo service on 127.0.0.1: the Gemini API's `predictLongRunning` + operation
polling + key-guarded file download, and Vertex AI's `predictLongRunning` +
`fetchPredictOperation` with inline video bytes. Scriptable per test."""

from __future__ import annotations

import base64
import itertools
import re
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .media_host import FAKE_FPS, FakeHTTP, FakeService, Recorded, make_mp4

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
        params = (req.body or {}).get("parameters", {})
        instance = ((req.body or {}).get("instances") or [{}])[0]
        seconds = float(params.get("durationSeconds") or 8)
        if "video" in instance:
            seconds = self.extend_seconds + (1.0 if self.extension_returns_full else 0.0)
        name = f"{name_prefix}/operations/op{next(_ids)}"
        self.operations[name] = Operation(name, req.body, seconds=seconds)
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
            uri = self.http.host_file(f"{file_id}.mp4", make_mp4(self.workdir, op.seconds))
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
            data = make_mp4(self.workdir, op.seconds).read_bytes()
            response["videos"] = [{"bytesBase64Encoded": base64.b64encode(data).decode(), "mimeType": "video/mp4"}]
        return 200, {}, {"name": name, "done": True, "response": response}
