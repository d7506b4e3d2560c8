"""Per-model input mapping for hosted models (Replicate, fal): how a `ClipRequest` becomes one
model's input dict, and what that model can make. Keys and limits are data, overridable.

Each hosted model takes its own input names (`image` vs `start_image` vs `image_url`),
durations (seconds, strings, or a frame count at a native fps) and sizes. A `ModelSpec`
holds those facts; `build_input` applies one; `capabilities_for` declares it to the planner;
`HostedModelGenerator` is the base of the Replicate and fal adapters that use them.
Values marked (?) come from third-party pages, not the provider: pass `inputs={...}` (any
`ModelSpec` field) to a generator to correct one without a release. An unknown model gets a
generic mapping and a note saying so.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any, ClassVar

from ..errors import BriefError, ConfigError, InputFileError
from ..timing import fraction_str, to_fraction
from . import prices
from .base import Capabilities, ClipRequest, Generator
from .options import JobOptions

# How the duration reaches the model: an int, a string ("5"), a string with unit ("5s"),
# a float, or not at all (the model makes one fixed length).
DURATION_FORMATS = ("int", "str", "str_s", "float", "none")


@dataclass(frozen=True)
class ModelSpec:
    """One hosted model's input names and limits. `None` for a key means the model lacks it."""

    model: str
    family: str = "generic"
    prompt: str = "prompt"
    negative_prompt: str | None = None
    seed: str | None = None
    image: str | None = None  # first-frame image input
    image_required: bool = False
    last_image: str | None = None
    references: str | None = None  # list of reference images
    max_references: int = 0
    aspect: str | None = "aspect_ratio"
    aspects: tuple[str, ...] = ("16:9", "9:16", "1:1")
    resolution: str | None = None
    resolutions: tuple[str, ...] = ("720p",)
    duration: str | None = "duration"
    duration_format: str = "int"
    durations: tuple[Fraction, ...] = ()  # discrete allowed seconds…
    min_duration: Fraction | None = None  # …or a range
    max_duration: Fraction | None = None
    duration_step: Fraction = Fraction(1)
    frames: str | None = None  # frame-count input; duration is then frames at native_fps
    frames_multiple: int = 1  # frames = multiple*k + frames_offset (Wan 4k+1, LTX 8k+1)
    frames_offset: int = 0
    min_frames: int | None = None
    max_frames: int | None = None
    fps: str | None = None  # fps input, sent with native_fps
    native_fps: Fraction | None = None
    audio: str | None = None  # boolean "generate audio" input
    has_audio: bool = False
    fixed: Mapping[str, Any] = field(default_factory=dict)  # constant inputs sent every time
    notes: str = ""

    def __post_init__(self) -> None:
        if self.duration_format not in DURATION_FORMATS:
            raise ConfigError(f"model {self.model}: duration_format {self.duration_format!r} is not one of "
                              f"{', '.join(DURATION_FORMATS)}")
        if self.frames and not self.native_fps:
            raise ConfigError(f"model {self.model}: a frame-count input needs native_fps")

    def allowed_durations(self) -> list[Fraction]:
        """Every duration (seconds) this model makes, ascending."""
        if self.frames:
            return [Fraction(n - self.frames_offset) / self.native_fps for n in self._frame_counts()]
        if self.durations:
            return sorted(set(self.durations))
        if self.min_duration is not None and self.max_duration is not None:
            out, d = [], self.min_duration
            while d <= self.max_duration:
                out.append(d)
                d += self.duration_step
            return out
        raise ConfigError(f"model {self.model} declares no durations: set durations or min/max_duration")

    def _frame_counts(self) -> list[int]:
        lo = self.min_frames or 1
        hi = self.max_frames or lo
        return [n for n in range(lo, hi + 1) if (n - self.frames_offset) % self.frames_multiple == 0]

    def frame_count(self, seconds: Fraction) -> int:
        """Frames to ask for so the clip covers `seconds` exactly at native_fps (plus the offset frame)."""
        assert self.native_fps is not None
        exact = Fraction(seconds) * self.native_fps
        if exact.denominator != 1:
            raise BriefError(f"{fraction_str(Fraction(seconds))} s is not a whole number of frames at "
                             f"{fraction_str(self.native_fps)} fps for {self.model}")
        return int(exact) + self.frames_offset


def _f(*values: int | str) -> tuple[Fraction, ...]:
    return tuple(to_fraction(v) for v in values)


# Replicate: owner/name -> spec fields. Sources: model pages' API schemas (?) as of 2026.
REPLICATE_MODELS: dict[str, dict[str, Any]] = {
    "wan-video/wan-2.2-t2v-fast": dict(
        family="wan", frames="num_frames", native_fps=Fraction(16), fps="frames_per_second",
        frames_multiple=4, frames_offset=1, min_frames=81, max_frames=121, duration=None,
        resolution="resolution", resolutions=("480p", "720p"), aspects=("16:9", "9:16"), seed="seed",
        notes="Wan 2.2 A14B fast: 81–121 frames at 16 fps (?)"),
    "wan-video/wan-2.2-i2v-fast": dict(
        family="wan", frames="num_frames", native_fps=Fraction(16), fps="frames_per_second",
        frames_multiple=4, frames_offset=1, min_frames=81, max_frames=121, duration=None,
        resolution="resolution", resolutions=("480p", "720p"), aspect=None, aspects=(), seed="seed",
        image="image", image_required=True, last_image="last_image",
        notes="Wan 2.2 A14B fast image-to-video; aspect follows the image (?)"),
    "wavespeedai/wan-2.1-t2v-480p": dict(
        family="wan", frames="num_frames", native_fps=Fraction(16), frames_multiple=4, frames_offset=1,
        min_frames=81, max_frames=101, duration=None, aspects=("16:9", "9:16"), resolutions=("480p",),
        negative_prompt="negative_prompt", seed="seed", notes="Wan 2.1 14B text-to-video, 480p (?)"),
    "wavespeedai/wan-2.1-i2v-480p": dict(
        family="wan", frames="num_frames", native_fps=Fraction(16), frames_multiple=4, frames_offset=1,
        min_frames=81, max_frames=101, duration=None, aspect=None, aspects=(), resolutions=("480p",),
        negative_prompt="negative_prompt", seed="seed", image="image", image_required=True,
        notes="Wan 2.1 14B image-to-video, 480p (?)"),
    "lightricks/ltx-video": dict(
        family="ltx", frames="length", native_fps=Fraction(24), frames_multiple=32, frames_offset=1,
        min_frames=97, max_frames=257, duration=None, negative_prompt="negative_prompt", seed="seed",
        image="image", resolution="target_size", resolutions=("512", "576", "640", "704", "768"),
        aspects=("1:1", "16:9", "9:16", "4:3", "3:4", "3:2", "2:3"),
        notes="LTX-Video 0.9: length 97–257 frames in steps of 32 at 24 fps; target_size in px (?)"),
    "lightricks/ltx-2-fast": dict(
        family="ltx", durations=_f(6, 8, 10), image="image", resolution="resolution",
        resolutions=("1080p", "1440p", "2160p"), aspects=("16:9", "9:16"), audio="generate_audio",
        has_audio=True, native_fps=Fraction(25), notes="LTX-2 fast with audio (?)"),
    "kwaivgi/kling-v2.5-turbo-pro": dict(
        family="kling", durations=_f(5, 10), negative_prompt="negative_prompt", image="start_image",
        aspects=("16:9", "9:16", "1:1"), resolutions=("1080p",), notes="Kling 2.5 Turbo Pro (?)"),
    "kwaivgi/kling-v2.1": dict(
        family="kling", durations=_f(5, 10), negative_prompt="negative_prompt", image="start_image",
        image_required=True, last_image="end_image", aspect=None, aspects=(), resolution="mode",
        resolutions=("standard", "pro"), notes="Kling 2.1: image-to-video only; end_image needs mode=pro (?)"),
    "bytedance/seedance-1-pro": dict(
        family="seedance", min_duration=Fraction(2), max_duration=Fraction(12), image="image",
        last_image="last_frame_image", resolution="resolution", resolutions=("480p", "720p", "1080p"),
        aspects=("16:9", "4:3", "1:1", "3:4", "9:16", "21:9", "9:21"), fps="fps", native_fps=Fraction(24),
        seed="seed", notes="Seedance 1 Pro: 2–12 s at 24 fps (?)"),
    "bytedance/seedance-1-lite": dict(
        family="seedance", min_duration=Fraction(2), max_duration=Fraction(12), image="image",
        last_image="last_frame_image", resolution="resolution", resolutions=("480p", "720p", "1080p"),
        aspects=("16:9", "4:3", "1:1", "3:4", "9:16", "21:9", "9:21"), fps="fps", native_fps=Fraction(24),
        seed="seed", notes="Seedance 1 Lite: 2–12 s at 24 fps (?)"),
    "minimax/hailuo-02": dict(
        family="hailuo", durations=_f(6, 10), image="first_frame_image", last_image="last_frame_image",
        resolution="resolution", resolutions=("512p", "768p", "1080p"), aspect=None, aspects=("16:9",),
        native_fps=Fraction(25), fixed={"prompt_optimizer": False},
        notes="Hailuo 02: 6 or 10 s (10 s not at 1080p), 25 fps; prompt_optimizer off so our prompt is kept (?)"),
    "minimax/video-01": dict(
        family="hailuo", durations=_f(6), duration=None, duration_format="none", image="first_frame_image",
        references="subject_reference", max_references=1, aspect=None, aspects=("16:9",), resolutions=("720p",),
        native_fps=Fraction(25), fixed={"prompt_optimizer": False}, notes="MiniMax Video-01: 6 s, 720p, 25 fps (?)"),
    "xai/grok-imagine-r2v": dict(
        family="grok", min_duration=Fraction(1), max_duration=Fraction(10), references="reference_images",
        max_references=7, resolution="resolution", resolutions=("480p", "720p"),
        aspects=("16:9", "9:16", "1:1", "4:3", "3:4", "3:2", "2:3"), has_audio=True,
        notes="Grok Imagine reference-to-video: ≤ 7 references named <IMAGE_n> in the prompt, ≤ 10 s (?)"),
}

# fal: endpoint id -> spec fields. fal apps take `image_url`-style keys and string durations (?).
FAL_MODELS: dict[str, dict[str, Any]] = {
    "fal-ai/wan/v2.2-a14b/text-to-video": dict(
        family="wan", frames="num_frames", native_fps=Fraction(16), fps="frames_per_second",
        frames_multiple=4, frames_offset=1, min_frames=81, max_frames=121, duration=None,
        negative_prompt="negative_prompt", seed="seed", resolution="resolution",
        resolutions=("480p", "580p", "720p"), aspects=("16:9", "9:16", "1:1"),
        notes="Wan 2.2 A14B: 81–121 frames at 16 fps (?)"),
    "fal-ai/wan/v2.2-a14b/image-to-video": dict(
        family="wan", frames="num_frames", native_fps=Fraction(16), fps="frames_per_second",
        frames_multiple=4, frames_offset=1, min_frames=81, max_frames=121, duration=None,
        negative_prompt="negative_prompt", seed="seed", resolution="resolution",
        resolutions=("480p", "580p", "720p"), aspects=("16:9", "9:16", "1:1"), image="image_url",
        image_required=True, last_image="end_image_url", notes="Wan 2.2 A14B image-to-video (?)"),
    "fal-ai/ltxv-13b-098-distilled": dict(
        family="ltx", frames="num_frames", native_fps=Fraction(24), fps="frame_rate", frames_multiple=8,
        frames_offset=1, min_frames=9, max_frames=241, duration=None, negative_prompt="negative_prompt",
        seed="seed", resolution="resolution", resolutions=("480p", "720p"), aspects=("16:9", "9:16", "1:1"),
        notes="LTX-Video 13B 0.9.8 distilled: frames 8k+1 at 24 fps (?)"),
    "fal-ai/ltxv-13b-098-distilled/image-to-video": dict(
        family="ltx", frames="num_frames", native_fps=Fraction(24), fps="frame_rate", frames_multiple=8,
        frames_offset=1, min_frames=9, max_frames=241, duration=None, negative_prompt="negative_prompt",
        seed="seed", resolution="resolution", resolutions=("480p", "720p"), aspects=("16:9", "9:16", "1:1"),
        image="image_url", image_required=True, notes="LTX-Video 13B 0.9.8 distilled image-to-video (?)"),
    "fal-ai/kling-video/v2.1/master/text-to-video": dict(
        family="kling", durations=_f(5, 10), duration_format="str", negative_prompt="negative_prompt",
        aspects=("16:9", "9:16", "1:1"), resolutions=("1080p",), notes="Kling 2.1 Master (?)"),
    "fal-ai/kling-video/v2.1/standard/image-to-video": dict(
        family="kling", durations=_f(5, 10), duration_format="str", negative_prompt="negative_prompt",
        image="image_url", image_required=True, aspect=None, aspects=(), resolutions=("720p",),
        notes="Kling 2.1 Standard image-to-video (?)"),
    "fal-ai/kling-video/v2.5-turbo/pro/text-to-video": dict(
        family="kling", durations=_f(5, 10), duration_format="str", negative_prompt="negative_prompt",
        aspects=("16:9", "9:16", "1:1"), resolutions=("1080p",), notes="Kling 2.5 Turbo Pro (?)"),
    "fal-ai/bytedance/seedance/v1/pro/text-to-video": dict(
        family="seedance", min_duration=Fraction(2), max_duration=Fraction(12), duration_format="str",
        resolution="resolution", resolutions=("480p", "720p", "1080p"), seed="seed", native_fps=Fraction(24),
        aspects=("21:9", "16:9", "4:3", "1:1", "3:4", "9:16"), notes="Seedance 1 Pro: 2–12 s (?)"),
    "fal-ai/bytedance/seedance/v1/pro/image-to-video": dict(
        family="seedance", min_duration=Fraction(2), max_duration=Fraction(12), duration_format="str",
        resolution="resolution", resolutions=("480p", "720p", "1080p"), seed="seed", native_fps=Fraction(24),
        aspects=("21:9", "16:9", "4:3", "1:1", "3:4", "9:16"), image="image_url", image_required=True,
        last_image="end_image_url", notes="Seedance 1 Pro image-to-video (?)"),
    "fal-ai/minimax/hailuo-02/standard/text-to-video": dict(
        family="hailuo", durations=_f(6, 10), duration_format="str", aspect=None, aspects=("16:9",),
        resolutions=("768p",), native_fps=Fraction(25), fixed={"prompt_optimizer": False},
        notes="Hailuo 02 Standard: 6 or 10 s at 768p (?)"),
    "fal-ai/minimax/hailuo-02/standard/image-to-video": dict(
        family="hailuo", durations=_f(6, 10), duration_format="str", aspect=None, aspects=(),
        resolutions=("768p",), native_fps=Fraction(25), image="image_url", image_required=True,
        fixed={"prompt_optimizer": False}, notes="Hailuo 02 Standard image-to-video (?)"),
}

GENERIC: dict[str, dict[str, Any]] = {
    "replicate": dict(negative_prompt="negative_prompt", seed="seed", image="image",
                      min_duration=Fraction(1), max_duration=Fraction(10)),
    "fal": dict(negative_prompt="negative_prompt", seed="seed", image="image_url", duration_format="str",
                min_duration=Fraction(1), max_duration=Fraction(10)),
}

TABLES: dict[str, dict[str, dict[str, Any]]] = {"replicate": REPLICATE_MODELS, "fal": FAL_MODELS}
SPEC_FIELDS = frozenset(f.name for f in dataclasses.fields(ModelSpec))
_FRACTION_FIELDS = frozenset({"min_duration", "max_duration", "duration_step", "native_fps"})


def known_models(provider: str) -> list[str]:
    return sorted(TABLES.get(provider, {}))


def resolve(provider: str, model: str, inputs: Mapping[str, Any] | None = None) -> ModelSpec:
    """The spec for `model` on `provider`, with `inputs` (ModelSpec fields) laid over it.

    An unknown model gets the provider's generic mapping (prompt, negative_prompt, seed,
    image, duration in whole seconds, aspect_ratio) and a note saying so."""
    if not model:
        raise ConfigError(f"{provider} needs a model: use {provider}:OWNER/NAME (known: "
                          f"{', '.join(known_models(provider))})")
    table = TABLES.get(provider)
    if table is None:
        raise ConfigError(f"no model table for provider {provider!r}")
    fields: dict[str, Any] = {}
    if model in table:
        fields.update(table[model])
    else:
        fields.update(GENERIC[provider])
        fields["notes"] = (f"{model} is not in reelwright's {provider} table: generic inputs (prompt, "
                           "negative_prompt, seed, image, duration, aspect_ratio) are sent; pass inputs={...} "
                           "to map its real input names and limits")
    for name, value in (inputs or {}).items():
        if name not in SPEC_FIELDS or name == "model":
            raise ConfigError(f"unknown model input setting {name!r} for {model}: choose from "
                              f"{', '.join(sorted(SPEC_FIELDS - {'model'}))}")
        fields[name] = _coerce(name, value)
    return ModelSpec(model=model, **fields)


def _coerce(name: str, value: Any) -> Any:
    """Overrides arrive from JSON/CLI: make durations exact and lists into tuples."""
    if value is None:
        return None
    if name == "durations":
        return tuple(to_fraction(v) for v in value)
    if name in _FRACTION_FIELDS:
        return to_fraction(value)
    if name in ("aspects", "resolutions"):
        return tuple(str(v) for v in value)
    return value


def capabilities_for(spec: ModelSpec, *, name: str, price_per_second: float = 0.0, price_date: str = "",
                     concurrency: int = 2, extend: bool = False) -> Capabilities:
    """What the planner may ask of this model."""
    return Capabilities(
        name=name,
        model=spec.model,
        durations=spec.allowed_durations(),
        aspects=list(spec.aspects) or ["16:9", "9:16", "1:1"],
        resolutions=list(spec.resolutions),
        fps=[spec.native_fps] if spec.native_fps else [],
        max_references=spec.max_references if spec.references else 0,
        text_to_video=not spec.image_required,
        image_to_video=spec.image is not None,
        last_frame=spec.last_image is not None,
        extend=extend,
        reference_images=spec.references is not None,
        audio=spec.has_audio,
        price_per_second=price_per_second,
        price_date=price_date,
        concurrency=concurrency,
        notes=spec.notes,
    )


class HostedOptions(JobOptions):
    """Options every hosted-model backend (Replicate, fal) takes."""

    inputs: dict[str, Any] | None = None  # ModelSpec fields laid over the model's table entry
    moderation_patterns: tuple[str, ...] | None = None  # words in an error that mean a safety refusal


class HostedModelGenerator(Generator):
    """A backend for hosted models: `spec` (from the provider's table, `inputs={...}` laid over it)
    says how requests become the model's inputs and what it can make. Subclasses set `name`,
    `default_model`, `moderation_patterns` and an `Options` derived from `HostedOptions`."""

    default_model: ClassVar[str] = ""
    moderation_patterns: ClassVar[tuple[str, ...]] = ()
    Options = HostedOptions
    opts: HostedOptions

    def __init__(self, model: str | None = None, **options: Any):
        super().__init__(model or self.default_model, **options)
        self.spec = resolve(self.name, self.model, self.opts.inputs)

    def capabilities(self) -> Capabilities:
        return capabilities_for(
            self.spec, name=self.name, price_per_second=prices.price_per_second(self.name, self.model),
            price_date=prices.price_date(), concurrency=self.opts.concurrency)

    def is_moderation(self, message: str) -> bool:
        """Whether an error message reads as a safety refusal (the patterns option, else the backend's)."""
        patterns = self.opts.moderation_patterns if self.opts.moderation_patterns is not None \
            else self.moderation_patterns
        text = message.lower()
        return any(p.lower() in text for p in patterns)


def build_input(spec: ModelSpec, request: ClipRequest, *, file_ref: Callable[[Path], Any]) -> dict[str, Any]:
    """The model's input dict for `request`. `file_ref(path)` turns a local image into what the
    provider accepts (a Path for Replicate's SDK to upload, a data URI, a URL).

    Raises BriefError quoting the value when the request asks for what the model cannot do."""
    _check_request(spec, request)
    out: dict[str, Any] = dict(spec.fixed)
    out[spec.prompt] = request.prompt
    if spec.negative_prompt and request.negative_prompt:
        out[spec.negative_prompt] = request.negative_prompt
    if spec.seed and request.seed:  # seed 0 means "any": let the model pick
        out[spec.seed] = request.seed
    if spec.frames:
        out[spec.frames] = spec.frame_count(request.duration)
    elif spec.duration and spec.duration_format != "none":
        out[spec.duration] = _format_duration(spec, request.duration)
    if spec.fps and spec.native_fps:
        fps = spec.native_fps
        out[spec.fps] = int(fps) if fps.denominator == 1 else float(fps)
    if spec.aspect:
        out[spec.aspect] = request.aspect
    if spec.resolution:
        out[spec.resolution] = request.resolution
    if spec.audio:
        out[spec.audio] = bool(request.audio)
    if request.image is not None and spec.image:
        out[spec.image] = file_ref(_readable(request.image))
    if request.last_image is not None and spec.last_image:
        out[spec.last_image] = file_ref(_readable(request.last_image))
    if request.references and spec.references:
        refs = [file_ref(_readable(r.path)) for r in request.references]
        out[spec.references] = refs[0] if spec.max_references == 1 else refs
    return out


def _check_request(spec: ModelSpec, request: ClipRequest) -> None:
    allowed = spec.allowed_durations()
    if Fraction(request.duration) not in allowed:
        shown = ", ".join(fraction_str(d) for d in allowed[:12]) + (" …" if len(allowed) > 12 else "")
        raise BriefError(f"duration {fraction_str(Fraction(request.duration))} s is not one {spec.model} makes "
                         f"(allowed: {shown})")
    # Without an aspect input, an image-to-video clip takes the image's shape: nothing to check.
    if spec.aspects and (spec.aspect or request.image is None) and request.aspect not in spec.aspects:
        raise BriefError(f"aspect {request.aspect!r} is not one {spec.model} makes (allowed: {', '.join(spec.aspects)})")
    if spec.resolution and request.resolution not in spec.resolutions:
        raise BriefError(f"resolution {request.resolution!r} is not one {spec.model} takes "
                         f"(allowed: {', '.join(spec.resolutions)})")
    if spec.image_required and request.image is None:
        raise BriefError(f"{spec.model} makes video from an image only: the request has no first-frame image")
    if request.image is not None and not spec.image:
        raise BriefError(f"{spec.model} takes no first-frame image; choose an image-to-video model")
    if request.last_image is not None and not spec.last_image:
        raise BriefError(f"{spec.model} takes no last-frame image")
    if request.references:
        if not spec.references:
            raise BriefError(f"{spec.model} takes no reference images")
        if len(request.references) > spec.max_references:
            raise BriefError(f"{len(request.references)} reference images given; {spec.model} takes at most "
                             f"{spec.max_references}")
    if request.extend_from is not None or request.extend_job:
        raise BriefError(f"{spec.model} cannot extend a video through this adapter")


def _format_duration(spec: ModelSpec, seconds: Fraction) -> Any:
    seconds = Fraction(seconds)
    if spec.duration_format == "float":
        return float(seconds)
    if seconds.denominator != 1:
        raise BriefError(f"{spec.model} takes whole seconds, not {fraction_str(seconds)} s")
    whole = int(seconds)
    if spec.duration_format == "str":
        return str(whole)
    if spec.duration_format == "str_s":
        return f"{whole}s"
    return whole


def _readable(path: Path) -> Path:
    path = Path(path)
    if not path.is_file():
        raise InputFileError(f"input image {str(path)!r} does not exist or is not a file")
    return path


def video_url_from(output: Any) -> str | None:
    """The first video URL in a model's output: a URL, a list of URLs, or fal-style
    `{"video": {"url": …}}` / `{"videos": [{"url": …}]}`."""
    if isinstance(output, str):
        return output if output.startswith(("http://", "https://", "data:")) else None
    if isinstance(output, (list, tuple)):
        for item in output:
            url = video_url_from(item)
            if url:
                return url
        return None
    if isinstance(output, Mapping):
        for key in ("video", "videos", "output", "url"):
            if key in output:
                url = video_url_from(output[key])
                if url:
                    return url
    return None
