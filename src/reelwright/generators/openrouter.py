"""Hosted video models through OpenRouter's video API (one key, many models), with the official `openrouter`
SDK: submit (`POST /videos` → 202 `{id, polling_url}`), poll `GET /videos/{id}` until completed, failed,
cancelled or expired, stream `GET /videos/{id}/content?index=0`. `usage.cost` is recorded as the clip's cost.

What a model takes (durations, resolutions, aspect ratios, first/last frame, audio, seed, price) comes from
`GET /videos/models` when a key or a `base_url` is set, else from a small dated table of known models, so
`reelwright generators` answers offline. Key: `OPENROUTER_API_KEY`. Server: `base_url`, else
`REELWRIGHT_OPENROUTER_BASE_URL`, else OpenRouter's own.
"""

from __future__ import annotations

import os
import tempfile
import threading
from fractions import Fraction
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ..errors import (
    BriefError,
    ConfigError,
    ExpiredResultError,
    GeneratorError,
    ModerationError,
    TransientGeneratorError,
)
from ..timing import fraction_str
from .base import Capabilities, ClipRequest, ClipResult, Generator, ProgressFn
from .jobs import (
    EXPIRED_STATUSES,
    LazyClient,
    accept_clip,
    billed_job,
    call_with_retries,
    data_uri,
    error_for_status,
    lost_sight,
    poll_until,
    require_key,
    retry_after_from_headers,
    start_or_resume,
    validate_request,
)
from .options import JobOptions
from .prices import price_date, price_per_second

DEFAULT_MODEL = "google/veo-3.1"
DEFAULT_BASE_URL = "https://openrouter.ai/api/v1"
BASE_URL_ENV = "REELWRIGHT_OPENROUTER_BASE_URL"
KEY_ENV = "OPENROUTER_API_KEY"
TERMINAL = ("completed", "failed", "cancelled", "expired")
_MODERATION_WORDS = ("moderation", "safety", "content policy", "prohibited", "blocked")


class ModelInfo(BaseModel):
    """One entry of `GET /videos/models`, the part reelwright uses."""

    model_config = ConfigDict(extra="ignore")
    id: str
    supported_durations: list[int] | None = None
    supported_resolutions: list[str] | None = None
    supported_aspect_ratios: list[str] | None = None
    supported_frame_images: list[str] | None = None
    generate_audio: bool | None = None
    seed: bool | None = None
    pricing_skus: dict[str, str] | None = None

    def usd_per_second(self, resolution: str) -> float | None:
        skus = self.pricing_skus or {}
        for key in (f"per-video-second-{resolution}", "per-video-second"):
            if key in skus:
                try:
                    return float(skus[key])
                except ValueError:
                    return None
        return None


# Offline answers for known slugs (2026-11, from OpenRouter's model pages); the live list wins when reachable.
KNOWN: dict[str, ModelInfo] = {m.id: m for m in [
    ModelInfo(id="google/veo-3.1", supported_durations=[4, 6, 8], supported_resolutions=["720p", "1080p"],
              supported_aspect_ratios=["16:9", "9:16"], supported_frame_images=["first_frame", "last_frame"],
              generate_audio=True, seed=True, pricing_skus={"per-video-second": "0.40"}),
    ModelInfo(id="google/veo-3.1-fast", supported_durations=[4, 6, 8], supported_resolutions=["720p", "1080p"],
              supported_aspect_ratios=["16:9", "9:16"], supported_frame_images=["first_frame", "last_frame"],
              generate_audio=True, seed=True, pricing_skus={"per-video-second": "0.15"}),
    ModelInfo(id="alibaba/wan-2.6", supported_durations=[5, 10], supported_resolutions=["480p", "720p", "1080p"],
              supported_aspect_ratios=["16:9", "9:16", "1:1"], supported_frame_images=["first_frame"],
              generate_audio=True, seed=True, pricing_skus={"per-video-second": "0.04"}),
]}


class OpenRouterOptions(JobOptions):
    """What the `openrouter` backend takes, beyond polling, retries and limits (unknown keys are refused)."""

    base_url: str | None = None
    poll_interval: float = Field(default=10.0, ge=0.0)  # OpenRouter recommends polling every 10-30 s
    deadline_s: float = Field(default=1200.0, gt=0)
    timeout: float = Field(default=120.0, gt=0)
    app_title: str = "reelwright"


def _error_message(exc: Any) -> str:
    data = getattr(exc, "data", None)
    error = getattr(data, "error", None)
    return str(getattr(error, "message", None) or getattr(exc, "message", None) or exc)


def _map_error(exc: BaseException) -> BaseException | None:
    import httpx
    from openrouter import errors

    if isinstance(exc, (httpx.TransportError, errors.NoResponseError)):
        return TransientGeneratorError(f"openrouter: connection trouble: {type(exc).__name__}")
    if not isinstance(exc, errors.OpenRouterError):
        return None
    status, message = exc.status_code, _error_message(exc)
    if status == 401:
        return ConfigError(f"OpenRouter refused the key (HTTP 401: {message}): check {KEY_ENV}")
    if status == 402:
        return ConfigError(f"OpenRouter: the account has no credit left (HTTP 402: {message})")
    if status in (400, 403) and any(w in message.lower() for w in _MODERATION_WORDS):
        return ModerationError(f"OpenRouter refused the request: {message}")
    return error_for_status(status, message, retry_after=retry_after_from_headers(exc.headers), provider="openrouter")


class OpenRouterGenerator(Generator):
    """`openrouter:<slug>`, e.g. `openrouter:google/veo-3.1`."""

    name = "openrouter"
    key_env = KEY_ENV
    Options = OpenRouterOptions
    opts: OpenRouterOptions

    def __init__(self, model: str | None = None, **options: Any):
        super().__init__(model or DEFAULT_MODEL, **options)
        self.base_url = (self.opts.base_url or os.environ.get(BASE_URL_ENV, "").strip() or None)
        self.limiter = self.opts.make_limiter()
        self._client = LazyClient(self._new_client)
        self._catalog: dict[str, ModelInfo] | None = None
        self._catalog_lock = threading.Lock()

    # ------------------------------------------------------------ the model's capabilities
    def _online(self) -> bool:
        return self.base_url is not None or bool(os.environ.get(KEY_ENV, "").strip())

    def catalog(self) -> dict[str, ModelInfo]:
        """`GET /videos/models`, fetched once."""
        with self._catalog_lock:
            if self._catalog is None:
                client = self.client()

                def fetch():
                    self._limit()
                    return client.video_generation.list_videos_models()

                listed = call_with_retries(fetch, policy=self.opts.retry, sleep=self.opts.sleep, map_error=_map_error)
                self._catalog = {m.id: ModelInfo.model_validate(m.model_dump()) for m in listed.data}
            return self._catalog

    def info(self) -> ModelInfo:
        if self._online():
            catalog = self.catalog()
            if self.model not in catalog:
                video = ", ".join(sorted(catalog)[:12])
                raise ConfigError(f"OpenRouter has no video model {self.model!r}; it lists {video}")
            return catalog[self.model]
        if self.model in KNOWN:
            return KNOWN[self.model]
        raise ConfigError(f"openrouter model {self.model!r} is not in reelwright's offline table: set {KEY_ENV} "
                          "so its capabilities can be read from OpenRouter's model list")

    def capabilities(self) -> Capabilities:
        info = self.info()
        frames = info.supported_frame_images or []
        resolutions = info.supported_resolutions or ["720p"]
        return Capabilities(
            name=self.name, model=self.model, models=sorted(self._catalog or KNOWN),
            durations=[Fraction(d) for d in (info.supported_durations or [5])],
            aspects=info.supported_aspect_ratios or ["16:9"], resolutions=resolutions,
            text_to_video=True, image_to_video="first_frame" in frames, last_frame="last_frame" in frames,
            reference_images=False, audio=bool(info.generate_audio),
            price_per_second=self._usd_per_second(info, resolutions[0]), price_date=price_date(),
            concurrency=self.opts.concurrency,
            notes="capabilities from OpenRouter's model list" if self._catalog else "offline table; set "
                  f"{KEY_ENV} to read OpenRouter's model list",
        )

    def _usd_per_second(self, info: ModelInfo, resolution: str) -> float:
        listed = info.usd_per_second(resolution)
        return listed if listed is not None else price_per_second(self.name, self.model, resolution)

    # ------------------------------------------------------------ client
    def _new_client(self):
        key = require_key(KEY_ENV, "OpenRouter")
        from openrouter import OpenRouter
        from openrouter.utils import BackoffStrategy, RetryConfig

        # reelwright retries (with Retry-After and a budget); the SDK's own retries would multiply them.
        no_retry = RetryConfig("none", BackoffStrategy(0, 0, 1.0, 0), False)
        return OpenRouter(api_key=key, server_url=self.base_url or DEFAULT_BASE_URL, retry_config=no_retry,
                          timeout_ms=int(self.opts.timeout * 1000), x_open_router_title=self.opts.app_title)

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
        caps = self.capabilities()
        if request.image is not None and not caps.image_to_video:
            raise BriefError(f"OpenRouter's {self.model} takes no first-frame image")
        if request.last_image is not None and not caps.last_frame:
            raise BriefError(f"OpenRouter's {self.model} takes no last-frame image")
        if request.extend_from is not None or request.edit_from is not None:
            raise BriefError(f"openrouter {self.model}: extending or editing a local video is not supported here")

    def body(self, request: ClipRequest) -> dict[str, Any]:
        """Keyword arguments for `video_generation.generate` (the JSON body)."""
        info = self.info()
        if Fraction(request.duration).denominator != 1:
            raise BriefError(f"OpenRouter takes whole seconds, not {fraction_str(request.duration)} s")
        body: dict[str, Any] = {"model": self.model, "prompt": request.prompt, "duration": int(request.duration),
                                "resolution": request.resolution, "aspect_ratio": request.aspect}
        if info.generate_audio is not None:
            body["generate_audio"] = bool(request.audio and info.generate_audio)
        if info.seed:
            body["seed"] = int(request.seed) % 2**32
        frames = []
        for path, kind in ((request.image, "first_frame"), (request.last_image, "last_frame")):
            if path is not None:
                frames.append({"type": "image_url", "image_url": {"url": data_uri(path)}, "frame_type": kind})
        if frames:
            body["frame_images"] = frames
        if request.references:
            body["input_references"] = [{"type": "image_url", "image_url": {"url": data_uri(r.path)}}
                                        for r in request.references]
        return body

    def generate(self, request: ClipRequest, progress: ProgressFn | None = None) -> ClipResult:
        report = progress or (lambda f, m: None)
        self.check(request)
        client = self.client()
        body = self.body(request)

        def submit():
            self._limit()
            return client.video_generation.generate(**body)

        job_id = start_or_resume(  # a recorded job is polled and fetched, never submitted again
            request, lambda: call_with_retries(submit, policy=self.opts.retry, sleep=self.opts.sleep,
                                               map_error=_map_error).id, "openrouter")
        report(0.02, f"openrouter job {job_id} {'resumed' if request.resume_job else 'submitted'}")
        try:  # no cancel call: a job lost from sight (server error, deadline) is polled again by the next take
            job = self._wait(client, job_id, report)
        except GeneratorError as exc:
            lost_sight(exc, job_id)
            raise
        if job.status != "completed":
            self._raise_failure(job)
        report(0.9, "downloading")
        usage = getattr(job, "usage", None)
        cost = getattr(usage, "cost", None)
        cost = cost if isinstance(cost, (int, float)) else None
        with billed_job(job.id, lambda: cost if cost is not None else
                        self._usd_per_second(self.info(), request.resolution) * float(request.duration)):
            self._fetch(client, job.id, request.out_path)  # finished and billed: the next take fetches it again
        meta: dict[str, Any] = {"generation_id": job.generation_id, "cost_source": "usage.cost" if cost is not None
                                else "price list"}
        if cost is None:
            cost = self._usd_per_second(self.info(), request.resolution) * float(request.duration)
        result = accept_clip(request.out_path, request, generator=self.name, model=self.model, cost_usd=cost,
                             job_id=job.id, metadata=meta)
        report(1.0, "done")
        return result

    def _poll(self, client, job_id: str):
        def get():
            self._limit()
            return client.video_generation.get_generation(job_id=job_id)

        return call_with_retries(get, policy=self.opts.retry, sleep=self.opts.sleep, map_error=_map_error)

    def _wait(self, client, job_id: str, report: ProgressFn):
        return poll_until(lambda: self._poll(client, job_id), is_done=lambda j: j.status in TERMINAL,
                          interval=self.opts.poll_interval, deadline_s=self.opts.deadline_s, sleep=self.opts.sleep,
                          clock=self.opts.clock,
                          progress=lambda j: report(0.3 if j.status == "in_progress" else 0.05,
                                                    f"openrouter job {job_id}: {j.status}"),
                          what=f"openrouter job {job_id}")

    @staticmethod
    def _raise_failure(job) -> None:
        message = job.error or "no reason given"
        if job.status == "expired":
            raise ExpiredResultError(f"openrouter job {job.id} expired before its video was fetched")
        if any(w in message.lower() for w in _MODERATION_WORDS):
            raise ModerationError(f"openrouter job {job.id} refused: {message}")
        if job.status == "cancelled":
            raise GeneratorError(f"openrouter job {job.id} was cancelled: {message}")
        raise GeneratorError(f"openrouter job {job.id} failed: {message}")

    def _fetch(self, client, job_id: str, dest: Path) -> None:
        for attempt in (1, 2):
            try:
                call_with_retries(lambda: self._download(client, job_id, dest), policy=self.opts.retry,
                                  sleep=self.opts.sleep, map_error=_map_error)
                return
            except ExpiredResultError as exc:
                if attempt == 2 or "truncated" in str(exc):
                    raise

    def _download(self, client, job_id: str, dest: Path) -> Path:
        """`GET /videos/{id}/content?index=0` streamed to a temp file beside `dest`; renamed only when whole."""
        import httpx

        dest = Path(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as out:
                self._limit()
                try:
                    resp = client.video_generation.get_video_content(job_id=job_id, index=0)
                except Exception as exc:
                    status = getattr(exc, "status_code", None)
                    if status in EXPIRED_STATUSES:
                        raise ExpiredResultError(f"the video of openrouter job {job_id} expired or is gone "
                                                 f"(HTTP {status})") from exc
                    raise
                got = 0
                try:
                    declared = resp.headers.get("content-length")
                    for chunk in resp.iter_raw():
                        out.write(chunk)
                        got += len(chunk)
                except httpx.RemoteProtocolError as exc:
                    raise ExpiredResultError(f"the video of openrouter job {job_id} was truncated: {exc}") from exc
                finally:
                    resp.close()
            if declared is not None and got != int(declared):
                raise ExpiredResultError(f"the video of openrouter job {job_id} was truncated: {got} of {declared} bytes")
            if got == 0:
                raise ExpiredResultError(f"the video of openrouter job {job_id} was empty")
            os.replace(tmp, dest)
            return dest
        finally:
            tmp.unlink(missing_ok=True)
