"""Luma Dream Machine backend (`luma:ray-2`) through the official `lumaai` SDK: create a video
generation, poll it, download `assets.video`; extend a previous generation by its id.

Keyframe images must be public URLs (Luma fetches them), so a local image needs
`image_url=callable(path) -> url` (your uploader) or `allow_data_uri=True` if your account
accepts data URIs; without either, image requests raise a clear InputFileError and
capabilities() declares no image-to-video. An extension's ClipResult holds only the new frames:
whether Luma's extended video repeats the source is not documented, so `extend_result`
("auto": trim when the video is longer than asked | "includes_source" | "new_only") decides
how many leading frames to drop. Other options (`LumaOptions`): `base_url` (else LUMAAI_BASE_URL),
`durations`, `resolutions`, `aspects` (override the model table), `loop`, `moderation_patterns`, and the
shared job options (`JobOptions`; here `poll_interval` defaults to 3 s).
"""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from ..errors import BriefError, ConfigError, GeneratorError, InputFileError, ModerationError
from ..media.encode import aac_args, h264_args, mp4_args
from ..media.ffmpeg import run_ffmpeg
from ..timing import Frac, fraction_str, seconds_to_frames
from . import jobs
from .base import Capabilities, ClipRequest, ClipResult, Generator, ProgressFn
from .options import JobOptions
from .prices import price_date, price_per_second

DEFAULT_MODEL = "ray-2"
ASPECTS = ("16:9", "9:16", "1:1", "4:3", "3:4", "21:9", "9:21")  # the SDK's Literal
# Durations are strings like "5s" in the API; ray-2 documents 5 s and 9 s (SDK Literal).
MODELS: dict[str, dict[str, Any]] = {
    "ray-2": {"durations": (5, 9), "resolutions": ("540p", "720p", "1080p", "4k")},
    "ray-flash-2": {"durations": (5, 9), "resolutions": ("540p", "720p", "1080p", "4k")},
}
MODERATION_PATTERNS = ("moderation", "not allowed", "nsfw", "content policy", "safety")


class LumaOptions(JobOptions):
    """Options for `luma:MODEL`."""

    poll_interval: float = Field(3.0, ge=0)
    base_url: str | None = None
    durations: list[Frac] | None = None  # override the model table
    resolutions: list[str] | None = None
    aspects: list[str] | None = None
    image_url: Callable[[Path], str] | None = None  # uploader: local image → public URL Luma can fetch
    allow_data_uri: bool = False
    extend_result: Literal["auto", "includes_source", "new_only"] = "auto"
    loop: bool | None = None
    moderation_patterns: tuple[str, ...] = MODERATION_PATTERNS


class LumaGenerator(Generator):
    name = "luma"
    key_env = "LUMAAI_API_KEY"
    Options = LumaOptions
    opts: LumaOptions

    def __init__(self, model: str | None = None, **options: Any):
        super().__init__(model or DEFAULT_MODEL, **options)
        table = MODELS.get(self.model, MODELS[DEFAULT_MODEL])
        opts = self.opts
        self.durations = list(opts.durations) if opts.durations is not None else [Fraction(d) for d in table["durations"]]
        self.resolutions = list(opts.resolutions if opts.resolutions is not None else table["resolutions"])
        self.aspects = list(opts.aspects if opts.aspects is not None else ASPECTS)
        self.notes = "" if self.model in MODELS else (
            f"{self.model} is not in reelwright's Luma table: ray-2 limits assumed; pass durations=/resolutions=")
        self._client = jobs.LazyClient(self._new_client)

    def _images_allowed(self) -> bool:
        return self.opts.image_url is not None or self.opts.allow_data_uri

    def capabilities(self) -> Capabilities:
        notes = "extend: frame0 names the previous generation's id (ClipResult.job_id); the result keeps only " \
                "the new frames"
        return Capabilities(
            name=self.name, model=self.model, models=sorted(MODELS), durations=self.durations,
            aspects=self.aspects, resolutions=self.resolutions, text_to_video=True,
            image_to_video=self._images_allowed(), last_frame=self._images_allowed(), extend=True,
            extend_durations=self.durations, price_per_second=price_per_second(self.name, self.model),
            price_date=price_date(), concurrency=self.opts.concurrency,
            notes="; ".join(n for n in (self.notes, notes) if n))

    def _new_client(self) -> Any:
        from lumaai import LumaAI

        key = jobs.require_key(self.key_env, "Luma")
        # max_retries=0: retries (and their waits) go through jobs.call_with_retries.
        return LumaAI(auth_token=key, base_url=self.opts.base_url, max_retries=0)

    def build_params(self, request: ClipRequest) -> dict[str, Any]:
        """The `generations.create` arguments for `request` (BriefError on what Luma cannot make)."""
        duration = Fraction(request.duration)
        if duration not in self.durations:
            raise BriefError(f"duration {fraction_str(duration)} s is not one luma {self.model} makes "
                             f"(allowed: {', '.join(fraction_str(d) for d in self.durations)})")
        if duration.denominator != 1:
            raise BriefError(f"luma takes whole seconds, not {fraction_str(duration)} s")
        if request.aspect not in self.aspects:
            raise BriefError(f"aspect {request.aspect!r} is not one luma makes (allowed: {', '.join(self.aspects)})")
        if request.resolution not in self.resolutions:
            raise BriefError(f"resolution {request.resolution!r} is not one luma {self.model} takes "
                             f"(allowed: {', '.join(self.resolutions)})")
        if request.references:
            raise BriefError("luma video generation takes no reference images")
        if request.extend_from is not None and not request.extend_job:
            raise BriefError("luma extends only its own generations: give extend_job (the id in ClipResult.job_id)")
        keyframes: dict[str, Any] = {}
        if request.extend_job:
            if request.image is not None:
                raise BriefError("luma: an extension starts from the previous generation, not from an image")
            keyframes["frame0"] = {"type": "generation", "id": request.extend_job}
        elif request.image is not None:
            keyframes["frame0"] = {"type": "image", "url": self._image_url(request.image)}
        if request.last_image is not None:
            keyframes["frame1"] = {"type": "image", "url": self._image_url(request.last_image)}
        params: dict[str, Any] = {"model": self.model, "prompt": request.prompt, "aspect_ratio": request.aspect,
                                  "duration": f"{int(duration)}s", "resolution": request.resolution}
        if self.opts.loop is not None:
            params["loop"] = self.opts.loop
        if keyframes:
            params["keyframes"] = keyframes
        return params

    def _image_url(self, path: Path) -> str:
        path = Path(path)
        if not path.is_file():
            raise InputFileError(f"input image {str(path)!r} does not exist or is not a file")
        uploader = self.opts.image_url
        if uploader is not None:
            return str(uploader(path))
        if self.opts.allow_data_uri:
            return jobs.data_uri(path)
        raise InputFileError(f"luma needs a public URL for keyframe image {path.name!r}: pass image_url=<uploader> "
                             "(or allow_data_uri=True if your account accepts data URIs)")

    def generate(self, request: ClipRequest, progress: ProgressFn | None = None) -> ClipResult:
        report = progress or (lambda fraction, message: None)
        sleep, policy = self.opts.sleep, self.opts.retry
        client = self._client.get()
        params = self.build_params(request)
        report(0.0, f"luma: {'resuming' if request.resume_job else 'starting'} {self.model}")

        def submit() -> str:
            return jobs.call_with_retries(
                lambda: client.generations.create(**params), policy=policy, sleep=sleep, map_error=self._map_error,
                on_retry=lambda n, err, wait: report(0.0, f"luma: retry {n} in {wait:.1f} s ({err})")).id

        gid = jobs.start_or_resume(request, submit, "luma")  # a recorded generation is polled, never redone
        # Luma has no cancel: past the deadline the job is left to finish on its own (the next take polls it).
        try:
            generation = jobs.poll_until(
                lambda: jobs.call_mapped(lambda: client.generations.get(gid), self._map_error),
                is_done=lambda g: g.state in ("completed", "failed"),
                interval=self.opts.poll_interval, deadline_s=self.opts.deadline_s,
                sleep=sleep, clock=self.opts.clock, retry=policy,
                progress=lambda g: report(0.1 if g.state == "queued" else 0.4, f"luma: {g.state}"),
                what=f"luma generation {gid}",
            )
        except GeneratorError as exc:
            jobs.lost_sight(exc, gid)
            raise
        if generation.state == "failed":
            reason = generation.failure_reason or "no reason given"
            if self._is_moderation(reason):
                raise ModerationError(f"luma {self.model} refused the request: {reason}")
            raise GeneratorError(f"luma generation {gid} failed: {reason}")
        url = generation.assets.video if generation.assets else None
        if not url:
            raise GeneratorError(f"luma generation {gid} completed without assets.video")
        report(0.9, "luma: downloading")
        with jobs.billed_job(gid, lambda: self.estimate_cost(request.duration)):  # finished: the next take fetches it
            jobs.call_with_retries(
                lambda: jobs.download(url, request.out_path,
                                      progress=lambda f: report(0.9 + 0.1 * f, "luma: downloading")),
                policy=policy, sleep=sleep)
        dropped = self._drop_source_frames(request) if request.extend_job else 0
        report(1.0, "luma: done")
        return jobs.accept_clip(request.out_path, request, generator=self.name, model=self.model, job_id=gid,
                                metadata={"provider": "luma", "extended_from": request.extend_job,
                                          "source_frames_dropped": dropped})

    def _drop_source_frames(self, request: ClipRequest) -> int:
        """Keep only the new frames of an extension: drop the leading frames that repeat the source."""
        mode = self.opts.extend_result
        if mode == "new_only":
            return 0
        info = jobs.probe_clip(request.out_path)
        keep = seconds_to_frames(Fraction(request.duration), info.fps)
        drop = info.frames - keep
        # "auto" trims only when the video is clearly longer than asked (over half a second).
        if drop <= 0 or (mode == "auto" and Fraction(drop) / info.fps <= Fraction(1, 2)):
            return 0
        start = Fraction(drop) / info.fps
        tmp = request.out_path.with_name(f".{request.out_path.stem}.trim{request.out_path.suffix}")
        args = ["-i", str(request.out_path), "-vf", f"trim=start_frame={drop},setpts=PTS-STARTPTS",
                *h264_args(preset="veryfast", crf=16)]
        if info.has_audio:
            args += ["-af", f"atrim=start={float(start):.6f},asetpts=PTS-STARTPTS", *aac_args(bitrate=None)]
        run_ffmpeg([*args, *mp4_args(), str(tmp)])
        tmp.replace(request.out_path)
        return drop

    def _is_moderation(self, text: str) -> bool:
        patterns = self.opts.moderation_patterns
        return any(p.lower() in text.lower() for p in patterns)

    def _map_error(self, exc: BaseException) -> BaseException | None:
        import lumaai

        if isinstance(exc, lumaai.APIStatusError):
            status = exc.status_code
            body = exc.body if isinstance(exc.body, dict) else {}
            message = str(body.get("detail") or exc.message)
            if status in (401, 403):
                return ConfigError(f"Luma rejected LUMAAI_API_KEY (HTTP {status}): {message}")
            if not jobs.is_retryable_status(status) and self._is_moderation(message):
                return ModerationError(f"luma {self.model} refused the request: {message}")
            return jobs.error_for_status(status, message, provider="luma",
                                         retry_after=jobs.retry_after_from_headers(exc.response.headers))
        if isinstance(exc, lumaai.APIConnectionError):
            return jobs.TransientGeneratorError(f"luma: connection trouble ({type(exc).__name__})")
        return None

    def close(self) -> None:
        self._client.close()
