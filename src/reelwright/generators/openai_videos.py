"""Any server that speaks the `/v1/videos` job shape (vLLM-Omni, SGLang diffusion, NVIDIA Dynamo, LiteLLM
proxy), through the official `openai` SDK's `client.videos` pointed at it with `base_url`.

The server is found at `base_url` (the CLI's `--gen-base-url`), else `REELWRIGHT_OPENAI_VIDEOS_BASE_URL`; its
key, if it wants one, is `OPENAI_VIDEOS_API_KEY` (never `OPENAI_API_KEY`: that belongs to another service).
A model named after a known open family (Wan, LTX, CogVideoX, HunyuanVideo) is asked for an exact frame count
(`num_frames` at the family's native fps, snapped to its frame rule), because these servers count frames;
any other model is asked for whole `seconds`. Engine extras go in `extra_body` only for engines that
document them (`engine="vllm-omni"`, the default).
"""

from __future__ import annotations

import json
import math
import os
import tempfile
import threading
import warnings
from fractions import Fraction
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from ..errors import BriefError, ConfigError, GeneratorError, ModerationError, TransientGeneratorError
from ..timing import fraction_str
from .base import Capabilities, ClipRequest, ClipResult, Generator, ProgressFn
from .diffusers_presets import Preset, fit_size, guess_class, preset_for
from .jobs import (
    EXPIRED_STATUSES,
    LazyClient,
    accept_clip,
    billed_job,
    call_with_retries,
    error_for_status,
    lost_sight,
    poll_until,
    retry_after_from_headers,
    start_or_resume,
    validate_request,
)
from .options import JobOptions
from .prices import price_date, price_per_second

# openai 3.x marks every `videos` method deprecated because OpenAI's own Sora service closed; the job shape
# lives on in the servers this adapter talks to, so the warning says nothing to a reelwright user.
warnings.filterwarnings("ignore", message=r"The Sora API is scheduled", category=DeprecationWarning)

BASE_URL_ENV = "REELWRIGHT_OPENAI_VIDEOS_BASE_URL"
KEY_ENV = "OPENAI_VIDEOS_API_KEY"
DONE = ("completed", "failed")
_MODERATION_WORDS = ("moderation", "safety", "content policy", "nsfw", "unsafe")


class OpenAIVideosOptions(JobOptions):
    """What the `openai-videos` backend takes, beyond polling, retries and limits (unknown keys are refused)."""

    base_url: str | None = None
    engine: Literal["vllm-omni", "generic"] = "vllm-omni"  # which extras the server documents
    count: Literal["auto", "frames", "seconds"] = "auto"  # auto: frames for a known open family
    preset: str | None = None  # a diffusers preset name, when the model id does not say its family
    fps: int | None = Field(default=None, ge=1)  # the server's output fps (vLLM-Omni takes whole numbers)
    durations: list[int] = Field(default_factory=list)  # whole seconds, for servers that count seconds
    resolutions: list[str] = Field(default_factory=list)
    audio: bool = False  # the model makes sound (sent as generate_sound)
    image_field: Literal["input_reference", "image_reference"] = "input_reference"
    steps: int | None = Field(default=None, ge=1, le=200)
    guidance: float | None = Field(default=None, ge=0.0, le=20.0)
    extra_params: dict[str, Any] = Field(default_factory=dict)  # model-specific, sent JSON-encoded
    usd_per_second: float | None = Field(default=None, ge=0.0)  # self-hosted: 0 unless said
    concurrency: int = Field(default=1, ge=1)  # one GPU server runs one job at a time
    deadline_s: float = Field(default=1800.0, gt=0)
    delete_after: bool = True  # free the server's stored copy once the clip is here
    timeout: float = Field(default=120.0, gt=0)


def _map_error(exc: BaseException) -> BaseException | None:
    import openai

    if isinstance(exc, openai.APIConnectionError):  # includes timeouts
        return TransientGeneratorError(f"openai-videos: connection trouble: {type(exc).__name__}")
    if type(exc).__name__ in ("ConnectError", "ReadTimeout", "ReadError", "WriteError", "PoolTimeout"):
        return TransientGeneratorError(f"openai-videos: connection trouble: {type(exc).__name__}")
    if not isinstance(exc, openai.APIStatusError):
        return None
    message = _error_text(exc.body) or exc.message
    if exc.status_code in (400, 422) and any(w in message.lower() for w in _MODERATION_WORDS):
        return ModerationError(f"the video server refused the request: {message}")
    if exc.status_code == 401:
        return ConfigError(f"the video server refused the key (HTTP 401): set {KEY_ENV} to a key it accepts")
    return error_for_status(exc.status_code, message, retry_after=retry_after_from_headers(exc.response.headers),
                            provider="openai-videos")


def _error_text(body: Any) -> str:
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict):
            return str(inner.get("message") or inner.get("detail") or "")
        detail = body.get("detail")
        if detail:
            return detail if isinstance(detail, str) else json.dumps(detail)[:300]
        return str(inner)
    return str(body or "")


class OpenAIVideosGenerator(Generator):
    """Open models served behind `/v1/videos`, e.g. `openai-videos:Wan-AI/Wan2.2-T2V-A14B-Diffusers`."""

    name = "openai-videos"
    key_env = KEY_ENV
    Options = OpenAIVideosOptions
    opts: OpenAIVideosOptions

    def __init__(self, model: str | None = None, **options: Any):
        super().__init__(model or "", **options)
        self.base_url = self.opts.base_url or os.environ.get(BASE_URL_ENV, "").strip() or None
        self.limiter = self.opts.make_limiter()
        self._client = LazyClient(self._new_client)
        self._served: list[str] | None = None
        self._served_lock = threading.Lock()
        self._h: dict[str, Any] = {}  # per-call headers, set with the client

    # ------------------------------------------------------------ what the server makes
    def served_models(self) -> list[str]:
        """The server's model list (`GET /models`), fetched once."""
        with self._served_lock:
            if self._served is None:
                client = self.client()
                page = call_with_retries(lambda: client.models.list(extra_headers=self._h), policy=self.opts.retry,
                                         sleep=self.opts.sleep, map_error=_map_error)
                self._served = [m.id for m in page.data]
            return list(self._served)

    def resolved_model(self) -> str:
        """The model asked for, checked against the server's list; the server's only model when none was asked."""
        if self.base_url is None:
            return self.model
        served = self.served_models()
        if not self.model:
            if not served:
                raise ConfigError(f"the video server at {self.base_url} lists no models")
            self.model = served[0]
        elif self.model not in served:
            raise ConfigError(f"the video server at {self.base_url} serves {', '.join(served) or 'no models'}, "
                              f"not {self.model!r}")
        return self.model

    def preset(self) -> Preset | None:
        """The open-model family the model belongs to (its frame rule and native fps), if known."""
        from .diffusers_presets import get_preset

        if self.opts.preset:
            return get_preset(self.opts.preset)
        try:
            return preset_for(self.model, guess_class(self.model))
        except ConfigError:
            return None

    def counts_frames(self) -> bool:
        if self.opts.count == "auto":
            return self.preset() is not None and self.opts.engine == "vllm-omni"
        if self.opts.count == "frames" and self.opts.engine != "vllm-omni":
            raise ConfigError("count='frames' needs an engine that takes num_frames (engine='vllm-omni')")
        return self.opts.count == "frames"

    def fps(self) -> int:
        preset = self.preset()
        if self.opts.fps is not None:
            return self.opts.fps
        if preset is not None and preset.fps.denominator == 1:
            return int(preset.fps)
        return 24

    def capabilities(self) -> Capabilities:
        if self.base_url is not None and not self.model:
            self.resolved_model()
        preset = self.preset()
        fps = Fraction(self.fps())
        if self.counts_frames():
            step = preset.frame_step if preset else 1
            top = preset.max_frames if preset else int(fps * 10)
            # Every frame count the family makes of at least one second: the planner snaps to these and the
            # cut trims, so the server never has to round a count (Wan warns and rounds; we decide).
            counts = [n for n in range(1, top + 1) if (n - 1) % step == 0 and n >= fps]
            durations = [Fraction(n) / fps for n in counts]
            how = f"frame counts {step}k+1 at {fps} fps" if step > 1 else f"any frame count at {fps} fps"
        else:
            durations = [Fraction(d) for d in (self.opts.durations or [4, 8, 12])]
            how = "whole seconds"
        # The size is sent in pixels (fitted to the family's rules), so any resolution the brief knows will do.
        resolutions = self.opts.resolutions or ["360p", "480p", "540p", "720p", "1080p"]
        return Capabilities(
            name=self.name, model=self.model or "(the server's model)", models=list(self._served or []),
            durations=durations, aspects=["16:9", "9:16", "1:1", "4:3", "3:4"], resolutions=resolutions,
            fps=[fps], text_to_video=True, image_to_video=True, audio=self.opts.audio,
            price_per_second=self._usd_per_second("*"), price_date=price_date(),
            concurrency=self.opts.concurrency,
            notes=f"{how}; server {self.base_url or f'from --gen-base-url or {BASE_URL_ENV}'}",
        )

    def _usd_per_second(self, resolution: str) -> float:
        if self.opts.usd_per_second is not None:
            return self.opts.usd_per_second
        return price_per_second(self.name, self.model, resolution)

    # ------------------------------------------------------------ client
    def _new_client(self):
        if self.base_url is None:
            raise ConfigError(f"openai-videos needs the server's address: pass --gen-base-url URL or set {BASE_URL_ENV}")
        import openai

        key = os.environ.get(KEY_ENV, "").strip()
        # Keyless servers get no Authorization header at all: a callable key keeps the SDK from falling back
        # to OPENAI_API_KEY (another service's secret), and each call omits the header on purpose (`_h`).
        self._h = {} if key else {"Authorization": openai.omit}
        return openai.OpenAI(api_key=key or (lambda: ""), base_url=self.base_url, max_retries=0,
                             timeout=self.opts.timeout)

    def client(self):
        return self._client.get()

    def close(self) -> None:
        self._client.close()

    def _limit(self) -> None:
        if self.limiter is not None:
            self.limiter.acquire()

    # ------------------------------------------------------------ one clip
    def check(self, request: ClipRequest) -> None:
        validate_request(self.capabilities(), request)
        if request.last_image is not None or request.references or request.extend_from is not None \
                or request.edit_from is not None:
            raise BriefError("openai-videos takes a prompt and at most a first-frame image "
                             "(no last frame, reference images or video to extend)")

    def size_for(self, request: ClipRequest) -> tuple[int, int]:
        preset = self.preset()
        if preset is None:
            return request.width, request.height
        return fit_size(request.width, request.height, preset, preset.multiple)

    def frames_for(self, request: ClipRequest) -> int:
        """The frame count for the asked length: exact where the family allows it, else the next one up."""
        preset = self.preset()
        wanted = math.ceil(Fraction(request.duration) * self.fps())
        return preset.snap_frames(wanted) if preset else wanted

    def create_args(self, request: ClipRequest) -> dict[str, Any]:
        """Keyword arguments for `client.videos.create` (files and `extra_body` included)."""
        width, height = self.size_for(request)
        args: dict[str, Any] = {"prompt": request.prompt, "model": self.model, "size": f"{width}x{height}"}
        extra: dict[str, Any] = {}
        if self.counts_frames():
            extra.update(num_frames=self.frames_for(request), fps=self.fps())
        else:
            if Fraction(request.duration).denominator != 1:
                raise BriefError(f"this video server takes whole seconds, not {fraction_str(request.duration)} s")
            args["seconds"] = str(int(request.duration))
        if self.opts.engine == "vllm-omni":
            preset = self.preset()
            negative = request.negative_prompt or (preset.negative_prompt if preset else "")
            if negative:
                extra["negative_prompt"] = negative
            extra["seed"] = int(request.seed) % 2**32
            if self.opts.steps is not None:
                extra["num_inference_steps"] = self.opts.steps
            if self.opts.guidance is not None:
                extra["guidance_scale"] = self.opts.guidance
            if self.opts.audio and request.audio:
                extra["generate_sound"] = True
            if self.opts.extra_params:
                extra["extra_params"] = json.dumps(self.opts.extra_params)
        if request.image is not None:
            if self.opts.image_field == "image_reference" and self.opts.engine == "vllm-omni":
                from .jobs import data_uri

                # Multipart fields are flat strings: vLLM-Omni reads this one as JSON.
                extra["image_reference"] = json.dumps({"image_url": data_uri(request.image)})
            else:
                args["input_reference"] = Path(request.image)
        if extra:
            args["extra_body"] = extra
        return args

    def generate(self, request: ClipRequest, progress: ProgressFn | None = None) -> ClipResult:
        report = progress or (lambda f, m: None)
        self.resolved_model()
        self.check(request)
        client = self.client()
        args = self.create_args(request)
        image = args.get("input_reference")

        def create():
            self._limit()
            if image is None:
                return client.videos.create(**args, extra_headers=self._h)
            with open(image, "rb") as fh:
                return client.videos.create(**{**args, "input_reference": (Path(image).name, fh)},
                                            extra_headers=self._h)

        video_id = start_or_resume(  # a recorded job is polled and fetched, never created again
            request, lambda: call_with_retries(create, policy=self.opts.retry, sleep=self.opts.sleep,
                                               map_error=_map_error).id, "the video server")
        report(0.02, f"video job {video_id} {'resumed' if request.resume_job else 'submitted'}")
        job = self._wait(client, video_id, report)
        if job.status != "completed":
            self._raise_failure(job)
        report(0.9, "downloading")
        duration = Fraction(request.duration)
        with billed_job(job.id, self._usd_per_second(request.resolution) * float(duration)):
            self._fetch(client, job.id, request.out_path)  # finished: on failure the next take fetches it again
        meta: dict[str, Any] = {"size_sent": args["size"], "server_model": getattr(job, "model", self.model)}
        extra = args.get("extra_body", {})
        if "num_frames" in extra:
            meta.update(num_frames=extra["num_frames"], fps_sent=extra["fps"])
        inference = getattr(job, "inference_time_s", None) or (job.model_extra or {}).get("inference_time_s")
        if inference is not None:
            meta["inference_time_s"] = inference
        result = accept_clip(request.out_path, request, generator=self.name, model=self.model,
                             cost_usd=self._usd_per_second(request.resolution) * float(duration), job_id=job.id,
                             metadata=meta)
        if self.opts.delete_after:
            self._delete(client, job.id)
        report(1.0, "done")
        return result

    def _retrieve(self, client, video_id: str):
        def get():
            self._limit()
            return client.videos.retrieve(video_id, extra_headers=self._h)

        return call_with_retries(get, policy=self.opts.retry, sleep=self.opts.sleep, map_error=_map_error)

    def _wait(self, client, video_id: str, report: ProgressFn):
        def pending(job) -> None:
            report(0.02 + 0.85 * min(max(float(job.progress or 0), 0.0), 100.0) / 100, f"video job {video_id}: "
                   f"{job.status} {job.progress or 0}%")

        try:
            return poll_until(lambda: self._retrieve(client, video_id), is_done=lambda j: j.status in DONE,
                              interval=self.opts.poll_interval, deadline_s=self.opts.deadline_s,
                              sleep=self.opts.sleep, clock=self.opts.clock, progress=pending,
                              what=f"video job {video_id}")
        except GeneratorError as exc:
            cancelled = "timed out" in str(exc)
            if cancelled:
                self._delete(client, video_id)  # DELETE aborts the engine's work too
            lost_sight(exc, video_id, cancelled=cancelled)  # a server error: the next take polls it again
            raise

    def _delete(self, client, video_id: str) -> None:
        try:
            client.videos.delete(video_id, extra_headers=self._h)
        except Exception:  # noqa: BLE001 - housekeeping: the clip (or the timeout) is what matters
            pass

    @staticmethod
    def _raise_failure(job) -> None:
        error = getattr(job, "error", None)
        message = (getattr(error, "message", None) or "no reason given") if error is not None else "no reason given"
        code = str(getattr(error, "code", "") or "") if error is not None else ""
        if any(w in f"{code} {message}".lower() for w in _MODERATION_WORDS):
            raise ModerationError(f"video job {job.id} refused [{code}]: {message}")
        if any(w in message.lower() for w in ("out of memory", "timeout", "temporarily", "overloaded")):
            raise TransientGeneratorError(f"video job {job.id} failed [{code}]: {message}")
        raise GeneratorError(f"video job {job.id} failed [{code or 'no code'}]: {message}")

    def _fetch(self, client, video_id: str, dest: Path) -> None:
        """Download the content. A gone result is asked for once more (a proxy in front may have lost its
        copy while the engine still has it); a cut-off body is reported, never patched up."""
        from ..errors import ExpiredResultError

        for attempt in (1, 2):
            try:
                call_with_retries(lambda: self._download(client, video_id, dest, self._h), policy=self.opts.retry,
                                  sleep=self.opts.sleep, map_error=_map_error)
                return
            except ExpiredResultError as exc:
                if attempt == 2 or "truncated" in str(exc):
                    raise

    @staticmethod
    def _download(client, video_id: str, dest: Path, headers: dict[str, Any]) -> Path:
        """`GET /videos/{id}/content` streamed to a temp file beside `dest`, renamed only when whole."""
        from ..errors import ExpiredResultError

        dest = Path(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
        tmp = Path(tmp_name)
        try:
            got = 0
            with os.fdopen(fd, "wb") as out, \
                    client.videos.with_streaming_response.download_content(video_id, extra_headers=headers) as resp:
                declared = resp.headers.get("content-length")
                for chunk in resp.iter_bytes():
                    out.write(chunk)
                    got += len(chunk)
            if declared is not None and got != int(declared):
                raise ExpiredResultError(f"the content of video job {video_id} was truncated: {got} of {declared} bytes")
            if got == 0:
                raise ExpiredResultError(f"the content of video job {video_id} was empty")
            os.replace(tmp, dest)
            return dest
        except Exception as exc:
            status = getattr(exc, "status_code", None)
            if status in EXPIRED_STATUSES:
                raise ExpiredResultError(f"the result of video job {video_id} expired or is gone "
                                         f"(HTTP {status})") from exc
            # The SDK streams through its own httpx fork: a body cut short surfaces as its protocol error.
            if type(exc).__name__ == "RemoteProtocolError":
                raise ExpiredResultError(f"the content of video job {video_id} was truncated: {exc}") from exc
            raise
        finally:
            tmp.unlink(missing_ok=True)
