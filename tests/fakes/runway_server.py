"""A fake Runway API on 127.0.0.1: `POST /v1/image_to_video` and `/v1/text_to_video` create
tasks, `GET /v1/tasks/{id}` walks PENDING → THROTTLED → RUNNING → SUCCEEDED | FAILED with
fresh output URLs on every fetch, `DELETE /v1/tasks/{id}` cancels. Scriptable per test.

A create body is checked against the runwayml SDK's own typed parameters (`ImageToVideoCreateParams`,
`TextToVideoCreateParams`: per-model fields, required keys, ratio and model literals) and the documented
ranges the types leave to prose (duration 2–10 s, promptText ≤ 1000 UTF-16 units, seed < 2**32); a body
that fails is refused with 400 `{"error": "Validation of body failed", "issues": [{path, message}]}`."""

from __future__ import annotations

import itertools
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runwayml.types.image_to_video_create_params import ImageToVideoCreateParams
from runwayml.types.text_to_video_create_params import TextToVideoCreateParams

from .media_host import FAKE_FPS, FakeHTTP, FakeService, Recorded, make_mp4
from .sdk_params import problems

API_VERSION = "2024-11-06"
CREATED_AT = "2026-11-05T10:00:00.000Z"
_ids = itertools.count(1)


@dataclass
class HttpFailure:
    status: int
    message: str
    retry_after: float | None = None


@dataclass
class Task:
    id: str
    endpoint: str
    body: dict[str, Any]
    polls: int = 0
    fetches_done: int = 0
    cancelled: bool = False


@dataclass
class RunwayFake(FakeService):
    """Knobs: `outcome` ('ok', 'failed', 'never'), `failure_code`, `failure`, `pending_polls`,
    `credits`, `submit_failures` / `poll_failures` (queues of HttpFailure)."""

    workdir: Path
    api_key: str = "test-runway-secret"
    outcome: str = "ok"
    pending_polls: int = 3
    failure_code: str = "SAFETY.INPUT.TEXT"
    failure: str = "The prompt did not pass moderation."
    credits: int | None = 25
    submit_failures: deque = field(default_factory=deque)
    poll_failures: deque = field(default_factory=deque)
    tasks: dict[str, Task] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.http = FakeHTTP(guard=self._auth_error)
        self.http.route("POST", lambda p: p in ("/v1/image_to_video", "/v1/text_to_video"), self._create)
        self.http.route("GET", lambda p: p.startswith("/v1/tasks/"), self._retrieve)
        self.http.route("DELETE", lambda p: p.startswith("/v1/tasks/"), self._delete)

    @property
    def submissions(self) -> list[Recorded]:
        return [r for r in self.http.log if r.method == "POST"]

    def frames_served(self, task_id: str) -> int:
        return round(float(self.tasks[task_id].body.get("duration", 10)) * FAKE_FPS)

    def _auth_error(self, req: Recorded) -> tuple[int, dict, Any] | None:
        if req.headers.get("authorization") != f"Bearer {self.api_key}":
            return 401, {}, {"error": "Unauthorized: invalid API key"}
        if req.headers.get("x-runway-version") != API_VERSION:
            return 400, {}, {"error": f"Invalid X-Runway-Version header, expected {API_VERSION}"}
        return None

    @staticmethod
    def _failure(f: HttpFailure) -> tuple[int, dict, Any]:
        return f.status, ({"Retry-After": f.retry_after} if f.retry_after is not None else {}), {"error": f.message}

    def _create(self, req: Recorded) -> tuple[int, dict, Any]:
        if self.submit_failures:
            return self._failure(self.submit_failures.popleft())
        body = req.body if isinstance(req.body, dict) else {}
        issues = body_issues(req.path.rsplit("/", 1)[-1], req.body)
        if issues:
            return 400, {}, {"error": "Validation of body failed",
                             "issues": [{"path": path.split(".")[1:], "message": message} for path, message in issues]}
        task = Task(f"task-{next(_ids)}", req.path.rsplit("/", 1)[-1], body)
        self.tasks[task.id] = task
        return 200, {}, {"id": task.id, "estimatedCost": {"credits": self.credits or 0}}

    def _retrieve(self, req: Recorded) -> tuple[int, dict, Any]:
        if self.poll_failures:
            return self._failure(self.poll_failures.popleft())
        task = self.tasks.get(req.path.rsplit("/", 1)[-1])
        if task is None:
            return 404, {}, {"error": "Task not found"}
        base = {"id": task.id, "createdAt": CREATED_AT}
        if task.cancelled:
            return 200, {}, {**base, "status": "CANCELLED", "cost": {"credits": 0}}
        task.polls += 1
        if self.outcome == "never" or task.polls <= self.pending_polls:
            status = ["PENDING", "THROTTLED", "RUNNING"][min(task.polls - 1, 2)]
            state = {**base, "status": status, "estimatedCost": {"credits": self.credits or 0}}
            if status == "RUNNING":
                state["progress"] = 0.5
            return 200, {}, state
        if self.outcome == "failed":
            return 200, {}, {**base, "status": "FAILED", "cost": {"credits": 0}, "failure": self.failure,
                             "failureCode": self.failure_code}
        task.fetches_done += 1
        width, height = (int(x) for x in task.body["ratio"].split(":"))  # ratio is the output's pixel size
        path = make_mp4(self.workdir, float(task.body.get("duration", 10)), size=(width, height))
        # Runway signs a fresh URL on every fetch of a finished task.
        url = self.http.host_file(f"{task.id}-{task.fetches_done}.mp4", path)
        state = {**base, "status": "SUCCEEDED", "output": [url + "?_jwt=signed"]}
        if self.credits is not None:
            state["cost"] = {"credits": self.credits}
        return 200, {}, state

    def _delete(self, req: Recorded) -> tuple[int, dict, Any]:
        task = self.tasks.get(req.path.rsplit("/", 1)[-1])
        if task is None:
            return 404, {}, {"error": "Task not found"}
        task.cancelled = True
        return 204, {}, b""


def body_issues(endpoint: str, body: object) -> list[tuple[str, str]]:
    """(path, message) for each way `body` breaks the endpoint's typed parameters or documented ranges."""
    params = ImageToVideoCreateParams if endpoint == "image_to_video" else TextToVideoCreateParams
    found = [tuple(p.split(": ", 1)) for p in problems(body, params)]
    if found or not isinstance(body, dict):
        return found
    text = body.get("promptText", "")
    if not text or len(text.encode("utf-16-le")) // 2 > 1000:
        found.append(("body.promptText", "must be 1 to 1000 UTF-16 code units"))
    if "duration" in body and not 2 <= body["duration"] <= 10:
        found.append(("body.duration", "must be an integer from 2 to 10"))
    if "seed" in body and not 0 <= body["seed"] <= 4294967295:
        found.append(("body.seed", "must be between 0 and 4294967295"))
    return found
