"""A fake xAI video service: a real gRPC server built from xai_sdk's own generated stubs
(`VideoServicer`), answering GenerateVideo / ExtendVideo / GetDeferredVideo like the service,
with result URLs on a local HTTP media host serving real MP4s. Scriptable per test.

The wire types come from the SDK's protobufs; what the service documents beyond them (known models,
duration 1–15 s, extension 2–10 s, reference mode ≤ 7 images and ≤ 10 s, 1080p and a last frame on 1.5
only, one of image or reference images, declared enum values) is checked by `request_issue`, and a
request that breaks it is aborted with INVALID_ARGUMENT, as the service does."""

from __future__ import annotations

import threading
import uuid
from collections import deque
from concurrent import futures
from dataclasses import dataclass, field
from pathlib import Path

import grpc
from xai_sdk.proto import deferred_pb2, usage_pb2, video_pb2, video_pb2_grpc

from .media_host import FAKE_FPS, FakeHTTP, frame_size, make_mp4


@dataclass
class RpcFailure:
    """Abort the next matching call with this gRPC status (and an optional retry-after trailer)."""

    code: grpc.StatusCode
    details: str = ""
    retry_after: float | None = None


@dataclass
class Job:
    request_id: str
    kind: str  # "generate" | "extend"
    request: object
    polls: int = 0


@dataclass
class XAIFake(video_pb2_grpc.VideoServicer):
    """Knobs: `outcome` ('ok', 'moderated', 'failed', 'expired', 'never'), `pending_polls`,
    `submit_failures` / `poll_failures` (queues of RpcFailure), `cost_ticks`,
    `extension_returns_full` (an extension's video includes its input)."""

    workdir: Path
    api_key: str = "test-xai-key"
    outcome: str = "ok"
    pending_polls: int = 2
    failure_code: str = "internal_error"
    failure_message: str = "the model crashed"
    cost_ticks: int | None = None
    extension_returns_full: bool = False
    submit_failures: deque = field(default_factory=deque)
    poll_failures: deque = field(default_factory=deque)
    jobs: dict[str, Job] = field(default_factory=dict)
    submissions: list = field(default_factory=list)
    auth_headers: list[str] = field(default_factory=list)
    submit_calls: int = 0  # every submit that reached the server, refused ones included
    poll_calls: int = 0
    served_seconds: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.media = FakeHTTP()
        self._lock = threading.Lock()
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        video_pb2_grpc.add_VideoServicer_to_server(self, self.server)
        self.port = self.server.add_insecure_port("127.0.0.1:0")
        self.server.start()

    @property
    def api_host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def close(self) -> None:
        self.server.stop(grace=None)
        self.media.close()

    def _check(self, context: grpc.ServicerContext, failures: deque) -> None:
        meta = dict(context.invocation_metadata())
        self.auth_headers.append(meta.get("authorization", ""))
        if meta.get("authorization") != f"Bearer {self.api_key}":
            context.abort(grpc.StatusCode.UNAUTHENTICATED, "invalid API key")
        with self._lock:
            failure = failures.popleft() if failures else None
        if failure is not None:
            if failure.retry_after is not None:
                context.set_trailing_metadata((("retry-after", str(failure.retry_after)),))
            context.abort(failure.code, failure.details)

    def _submit(self, kind: str, request, context) -> deferred_pb2.StartDeferredResponse:
        with self._lock:
            self.submit_calls += 1
        self._check(context, self.submit_failures)
        issue = request_issue(kind, request)
        if issue is not None:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, issue)
        rid = uuid.uuid4().hex[:12]
        with self._lock:
            self.jobs[rid] = Job(rid, kind, request)
            self.submissions.append(request)
        return deferred_pb2.StartDeferredResponse(request_id=rid)

    def GenerateVideo(self, request, context):  # noqa: N802 - gRPC method name
        return self._submit("generate", request, context)

    def ExtendVideo(self, request, context):  # noqa: N802 - gRPC method name
        return self._submit("extend", request, context)

    def GetDeferredVideo(self, request, context):  # noqa: N802 - gRPC method name
        with self._lock:
            self.poll_calls += 1
        self._check(context, self.poll_failures)
        job = self.jobs.get(request.request_id)
        if job is None:
            context.abort(grpc.StatusCode.NOT_FOUND, f"no request {request.request_id}")
        job.polls += 1
        if self.outcome == "never" or job.polls <= self.pending_polls:
            progress = min(99, 100 * job.polls // (self.pending_polls + 1))
            return video_pb2.GetDeferredVideoResponse(status=deferred_pb2.DeferredStatus.PENDING,
                                                      response=video_pb2.VideoResponse(progress=progress))
        if self.outcome == "expired":
            return video_pb2.GetDeferredVideoResponse(status=deferred_pb2.DeferredStatus.EXPIRED)
        if self.outcome == "failed":
            error = video_pb2.VideoError(code=self.failure_code, message=self.failure_message)
            return video_pb2.GetDeferredVideoResponse(status=deferred_pb2.DeferredStatus.FAILED,
                                                      response=video_pb2.VideoResponse(error=error))
        model = job.request.model
        if self.outcome == "moderated":
            video = video_pb2.GeneratedVideo(url="", duration=0, respect_moderation=False)
            return video_pb2.GetDeferredVideoResponse(status=deferred_pb2.DeferredStatus.DONE,
                                                      response=video_pb2.VideoResponse(video=video, model=model))
        seconds = float(job.request.duration or (6 if job.kind == "extend" else 8))
        if job.kind == "generate" and job.request.HasField("video"):
            seconds = 4.0  # an edit keeps its input's length; the fake's inputs are 4 s
        if job.kind == "extend" and self.extension_returns_full:
            seconds += 4.0
        path = make_mp4(self.workdir, seconds, size=self.size_of(job))
        url = self.media.host_file(f"{job.request_id}.mp4", path)
        self.served_seconds[job.request_id] = seconds
        usage = usage_pb2.SamplingUsage()
        if self.cost_ticks is not None:
            usage.cost_in_usd_ticks = self.cost_ticks
        video = video_pb2.GeneratedVideo(url=url, duration=int(seconds), respect_moderation=True)
        return video_pb2.GetDeferredVideoResponse(
            status=deferred_pb2.DeferredStatus.DONE,
            response=video_pb2.VideoResponse(video=video, model=model, usage=usage, progress=100))

    @staticmethod
    def size_of(job: Job) -> tuple[int, int]:
        """The asked aspect and resolution (defaults 16:9, 480p; an edit or extension: the same)."""
        req = job.request
        aspect, resolution = "16:9", "480p"
        if job.kind == "generate" and not req.HasField("video"):
            if req.aspect_ratio:
                aspect = video_pb2.VideoAspectRatio.Name(req.aspect_ratio).removeprefix("VIDEO_ASPECT_RATIO_")
                aspect = aspect.replace("_", ":")
            if req.resolution:
                resolution = video_pb2.VideoResolution.Name(req.resolution).removeprefix("VIDEO_RESOLUTION_").lower()
        return frame_size(aspect, resolution)

    def frames_served(self, request_id: str) -> int:
        return round(self.served_seconds[request_id] * FAKE_FPS)


MODELS = ("grok-imagine-video", "grok-imagine-video-1.5")


def _url_ok(url: str) -> bool:
    return url.startswith(("data:", "https://", "http://"))


def request_issue(kind: str, req) -> str | None:
    """Why the service would refuse this request (None when it would take it)."""
    if req.model not in MODELS:
        return f"Model {req.model!r} not found"
    if not req.prompt.strip():
        return "prompt must not be empty"
    if kind == "extend":
        if not req.HasField("video") or not _url_ok(req.video.url):
            return "an extension needs the input video"
        return None if req.duration == 0 or 2 <= req.duration <= 10 else \
            f"extension duration must be 2 to 10 seconds, got {req.duration}"
    if req.HasField("video"):
        return None if req.duration == 0 else "an edit keeps its input's length: duration must not be set"
    if not (req.duration == 0 or 1 <= req.duration <= 15):
        return f"duration must be 1 to 15 seconds, got {req.duration}"
    if req.aspect_ratio not in video_pb2.VideoAspectRatio.DESCRIPTOR.values_by_number:
        return f"unknown aspect_ratio {req.aspect_ratio}"
    if req.resolution not in video_pb2.VideoResolution.DESCRIPTOR.values_by_number:
        return f"unknown resolution {req.resolution}"
    if req.resolution == video_pb2.VideoResolution.VIDEO_RESOLUTION_1080P and req.model != MODELS[1]:
        return f"1080p is available on {MODELS[1]} only"
    refs = list(req.reference_images)
    if refs:
        if req.HasField("image"):
            return "give either an image or reference images, not both"
        if len(refs) > 7:
            return f"at most 7 reference images, got {len(refs)}"
        if req.duration > 10:
            return f"reference-image videos are at most 10 seconds, got {req.duration}"
    if req.HasField("last_frame"):
        if req.model != MODELS[1] or not req.HasField("image"):
            return f"a last frame needs {MODELS[1]} and a first image"
    for image in [*refs, *([req.image] if req.HasField("image") else []),
                  *([req.last_frame] if req.HasField("last_frame") else [])]:
        if not _url_ok(image.image_url):
            return "image_url must be an https URL or a data URI"
    return None
