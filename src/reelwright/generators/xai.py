"""xAI Grok Imagine video through the official `xai-sdk` (gRPC): text, first frame, reference
images, extension and edit, with native audio. Submit → poll the deferred request → download.

Options (`XAIOptions`): `api_host` (default $REELWRIGHT_XAI_API_HOST, else "api.x.ai"; "127.0.0.1:PORT" for a
local server), `use_insecure_channel` (default: True only for loopback hosts), `rpc_timeout`,
`max_extend_input` (15 s), `max_edit_input` (8.7 s), `max_reference_duration` (10 s), and the shared job
options (`JobOptions`: poll interval, deadline, retry, rate limit, concurrency).
"""

from __future__ import annotations

import os
import tempfile
from fractions import Fraction
from pathlib import Path
from typing import Any

from pydantic import Field

from ..errors import (BriefError, ConfigError, ExpiredResultError, GeneratorError, ModerationError,
                      TransientGeneratorError)
from ..timing import Frac
from .base import Capabilities, ClipRequest, ClipResult, Generator, ProgressFn
from .jobs import (
    LazyClient,
    accept_clip,
    call_with_retries,
    data_uri,
    download,
    keep_new_tail,
    poll_until,
    probe_clip,
    require_key,
    tail_of_video,
    validate_request,
)
from .options import JobOptions
from .prices import price_date, price_per_second

DEFAULT_MODEL = "grok-imagine-video"
ASPECTS = ["16:9", "9:16", "1:1", "4:3", "3:4", "3:2", "2:3"]
# Per model: resolutions and whether it takes a last frame. (?) where only third parties say so.
MODELS: dict[str, dict[str, Any]] = {
    "grok-imagine-video": {"resolutions": ["480p", "720p"], "last_frame": False},
    "grok-imagine-video-1.5": {"resolutions": ["480p", "720p", "1080p"], "last_frame": True},
}
LOOPBACK = ("127.0.0.1", "localhost", "[::1]")
# Words in an xAI error code or message that mean the content was refused, not that the call failed.
MODERATION_WORDS = ("moderation", "content_policy", "content policy", "safety", "unsafe", "prohibited")


def _is_moderation(text: str) -> bool:
    low = text.lower()
    return any(w in low for w in MODERATION_WORDS)


def _map_grpc_error(exc: BaseException) -> BaseException | None:
    """gRPC status → the reelwright error that says who must act."""
    import grpc

    if not isinstance(exc, grpc.RpcError) or not hasattr(exc, "code"):
        return None
    code = exc.code()
    details = (exc.details() if hasattr(exc, "details") else "") or ""
    retry_after = None
    for key, value in (exc.trailing_metadata() if hasattr(exc, "trailing_metadata") else None) or ():
        if key.lower() == "retry-after":
            try:
                retry_after = float(value)
            except ValueError:
                pass
    transient = {grpc.StatusCode.RESOURCE_EXHAUSTED, grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED,
                 grpc.StatusCode.ABORTED, grpc.StatusCode.INTERNAL}
    if code in transient:
        return TransientGeneratorError(f"xai: {code.name}: {details}", retry_after=retry_after)
    if code == grpc.StatusCode.UNAUTHENTICATED or (code == grpc.StatusCode.PERMISSION_DENIED
                                                  and not _is_moderation(details)):
        return ConfigError(f"xAI rejected the key in XAI_API_KEY ({code.name}): {details}")
    if code in (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.PERMISSION_DENIED,
                grpc.StatusCode.FAILED_PRECONDITION) and _is_moderation(details):
        return ModerationError(f"xai refused the request: {details}")
    return GeneratorError(f"xai: {code.name}: {details}")


class XAIOptions(JobOptions):
    """Options for `xai:MODEL`."""

    api_host: str | None = None
    use_insecure_channel: bool | None = None
    rpc_timeout: float = Field(120, gt=0)
    max_extend_input: Frac = Fraction(15)
    max_edit_input: Frac = Fraction(87, 10)
    max_reference_duration: Frac = Fraction(10)
    allow_unknown_model: bool = False


class XAIGenerator(Generator):
    """Grok Imagine video. One mode per request, chosen from the request's inputs."""

    name = "xai"
    key_env = "XAI_API_KEY"
    Options = XAIOptions
    opts: XAIOptions

    def __init__(self, model: str | None = None, **options: Any):
        super().__init__(model or DEFAULT_MODEL, **options)
        opts = self.opts
        if self.model not in MODELS and not opts.allow_unknown_model:
            raise BriefError(f"unknown xai model {self.model!r}; choose one of {', '.join(MODELS)}")
        # REELWRIGHT_XAI_API_HOST points the CLI at another endpoint (a proxy, or a local server in tests).
        self.api_host: str = (opts.api_host or os.environ.get("REELWRIGHT_XAI_API_HOST", "").strip()
                              or "api.x.ai")
        insecure = opts.use_insecure_channel
        self.insecure = insecure if insecure is not None else self.api_host.startswith(LOOPBACK)
        self.poll_interval = opts.poll_interval
        self.deadline_s = opts.deadline_s
        self.rpc_timeout = opts.rpc_timeout
        self.retry = opts.retry
        self.sleep = opts.sleep
        self.max_extend_input = opts.max_extend_input
        self.max_edit_input = opts.max_edit_input
        self.max_reference_duration = opts.max_reference_duration
        self.limiter = opts.make_limiter()
        self._client = LazyClient(self._new_client)

    def _limit(self) -> None:
        if self.limiter is not None:
            self.limiter.acquire()

    def capabilities(self) -> Capabilities:
        spec = MODELS.get(self.model, MODELS[DEFAULT_MODEL])
        return Capabilities(
            name=self.name, model=self.model, models=list(MODELS), min_duration=Fraction(1), max_duration=Fraction(15),
            duration_step=Fraction(1), aspects=ASPECTS, resolutions=spec["resolutions"], fps=[Fraction(24)],
            max_references=7, text_to_video=True, image_to_video=True, last_frame=spec["last_frame"], extend=True,
            edit=True, reference_images=True, audio=True, max_extend_input=self.max_extend_input,
            extend_durations=[Fraction(d) for d in range(2, 11)],
            reference_durations=[Fraction(d) for d in range(1, 11)],
            price_per_second=price_per_second(self.name, self.model, "480p"), price_date=price_date(),
            concurrency=self.opts.concurrency,
            notes=f"reference mode ≤ {self.max_reference_duration} s; extension input trimmed to its last "
                  f"{self.max_extend_input} s; edit input ≤ {self.max_edit_input} s; result URLs valid 24 h",
        )

    def _new_client(self):
        key = require_key("XAI_API_KEY", "xAI")
        from xai_sdk import Client

        return Client(api_key=key, api_host=self.api_host, use_insecure_channel=self.insecure,
                      timeout=self.rpc_timeout)

    def client(self):
        """The xai_sdk Client (one per generator; gRPC channels are thread-safe)."""
        return self._client.get()

    def close(self) -> None:
        self._client.close()

    def mode_of(self, request: ClipRequest) -> str:
        """text | image | reference | extend | edit: one mode per request, as the API wants."""
        edit_from = getattr(request, "edit_from", None)
        if edit_from is not None or (request.extend_from is not None and request.display.get("mode") == "edit"):
            return "edit"
        if request.extend_from is not None:
            return "extend"
        if request.references:
            if request.image is not None:
                raise BriefError("xai takes either a first-frame image or reference images, not both")
            return "reference"
        if request.image is not None:
            return "image"
        return "text"

    def generate(self, request: ClipRequest, progress: ProgressFn | None = None) -> ClipResult:
        caps = self.capabilities()
        mode = self.mode_of(request)
        if mode != "edit":
            validate_request(caps, request)
        if mode == "reference" and request.duration > self.max_reference_duration:
            raise BriefError(f"xai reference-image clips are at most {self.max_reference_duration} s, "
                             f"asked for {request.duration} s")
        if request.last_image is not None and not caps.last_frame:
            raise BriefError(f"xai model {self.model!r} does not take a last frame; use grok-imagine-video-1.5")
        client = self.client()
        report = progress or (lambda f, m: None)
        meta: dict[str, Any] = {"mode": mode}
        if request.resume_job:  # submitted before (this process or a killed one): never pay twice
            request_id = request.resume_job
            if mode == "extend":  # keep_new_tail needs what submission learns about the input
                with tempfile.TemporaryDirectory(prefix="rw-xai-") as tmp:
                    self.submission(request, mode, Path(tmp), meta)
        else:
            with tempfile.TemporaryDirectory(prefix="rw-xai-") as tmp:
                method, kwargs = self.submission(request, mode, Path(tmp), meta)
                submit = getattr(client.video, method)

                def start():
                    self._limit()
                    return submit(request.prompt, self.model, **kwargs)

                request_id = call_with_retries(start, policy=self.retry, sleep=self.sleep,
                                               map_error=_map_grpc_error).request_id
            if request.on_submitted is not None:
                request.on_submitted(request_id)
        report(0.05, f"xai job {request_id} {'resumed' if request.resume_job else 'submitted'} ({mode})")
        try:
            state = self._wait(client, request_id, report)
        except (GeneratorError, ConfigError) as exc:  # we lost sight of the job, it may still finish
            if isinstance(exc, GeneratorError):
                exc.job_id = request_id
            raise
        response = self._response(state, request_id)
        cost = self._cost(response)
        url = response.video.url
        report(0.9, "downloading")
        try:
            call_with_retries(lambda: download(url, request.out_path), policy=self.retry, sleep=self.sleep)
        except GeneratorError as exc:  # finished and billed: the take loop fetches this job again
            exc.job_id = request_id
            exc.billed_usd = cost if cost is not None else self.estimate_cost(request.duration)
            raise
        if mode == "extend":
            keep_new_tail(request, meta)
        meta.update({"video_url": url, "reported_duration": response.video.duration})
        result = accept_clip(request.out_path, request, generator=self.name, model=response.model or self.model,
                             cost_usd=cost, job_id=request_id, metadata=meta)
        report(1.0, "done")
        return result

    def submission(self, request: ClipRequest, mode: str, tmp: Path,
                   meta: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        """(xai_sdk video method, its keyword arguments) for a request; inputs are prepared once here."""
        if request.duration != int(request.duration):
            raise BriefError(f"xai durations are whole seconds, got {request.duration}")
        if mode == "extend":
            source = self._video_input(Path(request.extend_from), tmp, self.max_extend_input, meta, trim=True)
            return "extend_start", {"video_url": source, "duration": int(request.duration)}
        if mode == "edit":
            src = Path(getattr(request, "edit_from", None) or request.extend_from)
            source = self._video_input(src, tmp, self.max_edit_input, meta, trim=False)
            return "start", {"video_url": source}
        kwargs: dict[str, Any] = {
            "duration": int(request.duration),
            "aspect_ratio": request.aspect,
            "resolution": request.resolution,
            "generate_audio": request.audio,
        }
        if mode == "image":
            kwargs["image_url"] = data_uri(request.image)
            if request.last_image is not None:
                kwargs["last_frame_url"] = data_uri(request.last_image)
        elif mode == "reference":
            # Order matters: the prompt already names them <IMAGE_1>, <IMAGE_2>, … in this order.
            kwargs["reference_image_urls"] = [data_uri(ref.path) for ref in request.references]
            meta["references"] = [ref.name or ref.path.name for ref in request.references]
        return "start", kwargs

    def _video_input(self, src: Path, tmp: Path, limit: Fraction, meta: dict[str, Any], *, trim: bool) -> str:
        """A data URI of the input video, trimmed to its last `limit` seconds for an extension."""
        length = probe_clip(src).duration
        if length > limit:
            if not trim:
                raise BriefError(f"xai edits take at most {limit} s of video; {src.name} is {float(length):.3f} s")
            src = tail_of_video(src, tmp / "input_tail.mp4", limit)
            meta["input_trimmed_to_s"] = float(limit)
        elif length < 2 and trim:
            raise BriefError(f"xai extends videos of at least 2 s; {src.name} is {float(length):.3f} s")
        meta["input_duration_s"] = float(min(length, limit))
        return data_uri(src, "video/mp4")

    def _wait(self, client, request_id: str, report: ProgressFn):
        from xai_sdk.proto import deferred_pb2

        pending = deferred_pb2.DeferredStatus.PENDING

        def get():
            self._limit()
            return client.video.get(request_id)

        def fetch():
            return call_with_retries(get, policy=self.retry, sleep=self.sleep, map_error=_map_grpc_error)

        def on_pending(state) -> None:
            pct = state.response.progress if state.HasField("response") else 0
            report(0.05 + 0.8 * min(pct, 100) / 100, f"xai job {request_id}: generating ({pct}%)")

        return poll_until(fetch, is_done=lambda s: s.status != pending, interval=self.poll_interval,
                          deadline_s=self.deadline_s, sleep=self.sleep, clock=self.opts.clock,
                          progress=on_pending, what=f"xai job {request_id}")

    def _response(self, state, request_id: str):
        from xai_sdk.proto import deferred_pb2

        status = state.status
        if status == deferred_pb2.DeferredStatus.DONE:
            if not state.HasField("response"):
                raise GeneratorError(f"xai job {request_id} finished without a response")
            response = state.response
            if response.HasField("error") and response.error.code:
                self._raise_failure(response.error.code, response.error.message, request_id)
            # proto3 bool without presence: the service sets it true for every video it lets through.
            if not response.video.respect_moderation:
                raise ModerationError(f"xai job {request_id}: the video was blocked by moderation")
            if not response.video.url:
                raise GeneratorError(f"xai job {request_id} finished without a video URL")
            return response
        if status == deferred_pb2.DeferredStatus.EXPIRED:
            raise ExpiredResultError(f"xai job {request_id} expired before its result was fetched")
        if status == deferred_pb2.DeferredStatus.FAILED:
            if state.HasField("response") and state.response.HasField("error"):
                self._raise_failure(state.response.error.code, state.response.error.message, request_id)
            raise GeneratorError(f"xai job {request_id} failed with no error details")
        raise GeneratorError(f"xai job {request_id} ended in unknown status {status}")

    @staticmethod
    def _raise_failure(code: str, message: str, request_id: str) -> None:
        if _is_moderation(code) or _is_moderation(message):
            raise ModerationError(f"xai job {request_id} refused [{code}]: {message}")
        raise GeneratorError(f"xai job {request_id} failed [{code}]: {message}")

    @staticmethod
    def _cost(response) -> float | None:
        usage = response.usage
        if response.HasField("usage") and usage.HasField("cost_in_usd_ticks"):
            from xai_sdk.cost import cost_usd_from_usage

            return cost_usd_from_usage(usage)
        return None
