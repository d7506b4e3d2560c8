"""The generator interface: what a video backend can do (`Capabilities`), what it is asked
(`ClipRequest`) and what it returns (`ClipResult`). Generators know nothing about plans."""

from __future__ import annotations

import abc
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from ..errors import BriefError
from ..timing import Frac
from .options import GeneratorOptions

ProgressFn = Callable[[float, str], None]  # (fraction done 0..1, message)


class Capabilities(BaseModel):
    """What a backend can make. The planner asks only for what is declared here."""

    model_config = ConfigDict(extra="forbid")
    name: str
    model: str = ""
    models: list[str] = Field(default_factory=list)
    durations: list[Frac] = Field(default_factory=list)  # discrete allowed durations, seconds
    min_duration: Frac | None = None  # with max_duration and duration_step: a range instead
    max_duration: Frac | None = None
    duration_step: Frac = Fraction(1)
    aspects: list[str] = Field(default_factory=lambda: ["16:9", "9:16", "1:1"])
    resolutions: list[str] = Field(default_factory=lambda: ["720p"])
    fps: list[Frac] = Field(default_factory=list)  # empty: any fps (conformed anyway)
    max_references: int = 0
    # History packing (context.md point 3): how many full-frame equivalents of earlier frames the backend
    # conditions on (LTX conditions, Wan VACE); 0 = it takes none beyond `image`.
    max_conditioning_frames: int = 0
    # True where every conditioning frame is resized to the clip's size anyway (so a smaller frame saves
    # nothing): older history is then thinned by temporal stride instead of downsampled.
    conditioning_full_size: bool = False
    text_to_video: bool = True
    image_to_video: bool = False
    last_frame: bool = False
    extend: bool = False
    edit: bool = False
    reference_images: bool = False
    audio: bool = False
    reference_durations: list[Frac] = Field(default_factory=list)  # durations allowed with reference images; empty: all
    max_extend_input: Frac | None = None  # seconds of input an extension accepts
    extend_durations: list[Frac] = Field(default_factory=list)
    price_per_second: float = 0.0  # USD
    price_date: str = ""
    concurrency: int = 2
    local: bool = False  # runs on this machine (no key, no network)
    notes: str = ""

    def allowed_durations(self) -> list[Fraction]:
        """Every duration this backend makes, ascending."""
        if self.durations:
            return sorted(set(self.durations))
        if self.min_duration is not None and self.max_duration is not None:
            out, d = [], Fraction(self.min_duration)
            while d <= self.max_duration:
                out.append(d)
                d += self.duration_step
            return out
        raise BriefError(f"generator {self.name} declares no durations")


class ReferenceImage(BaseModel):
    model_config = ConfigDict(extra="forbid")
    path: Path
    name: str = ""  # entity name, for the prompt
    entity_id: str = ""


class HistoryFrame(BaseModel):
    """A frame of the shots this one continues, packed for backends that condition on several frames."""

    model_config = ConfigDict(extra="forbid")
    path: Path  # a PNG at its packed size: the clip's size divided by `factor` per axis
    frame_index: int  # frames (at the request's fps) from the clip's first frame: 0 = that frame, < 0 = earlier
    factor: int = 1  # downsampling per axis: 1 = full size
    strength: float = 1.0  # how hard it steers, 0..1 (smaller, older frames steer less)


class ClipRequest(BaseModel):
    """One clip to make. Paths are local files; adapters upload what their API needs."""

    model_config = ConfigDict(extra="forbid")
    shot_id: str
    prompt: str
    negative_prompt: str = ""
    duration: Frac  # seconds: one of Capabilities.allowed_durations()
    width: int
    height: int
    aspect: str
    resolution: str = "720p"
    fps: Frac = Fraction(24)
    seed: int = 0
    model: str = ""
    image: Path | None = None  # first frame
    last_image: Path | None = None  # last frame (interpolation)
    references: list[ReferenceImage] = Field(default_factory=list)
    history: list[HistoryFrame] = Field(default_factory=list)  # oldest first; the last is the newest frame
    extend_from: Path | None = None  # a video to continue; the ClipResult holds only the new frames
    extend_job: str | None = None  # provider id or URI of a generation to continue (Luma id, Veo video URI)
    edit_from: Path | None = None  # a video to edit (Grok Imagine edits)
    audio: bool = True
    out_path: Path  # where the finished MP4 must be written
    display: dict[str, Any] = Field(default_factory=dict)  # beat, index, timecode… (animatic cards)
    # A provider job already submitted for this clip (recorded by the take loop): poll and download it,
    # never submit again. `on_submitted(job_id)` is called the moment a job id exists, before polling.
    resume_job: str | None = None
    on_submitted: Callable[[str], None] | None = Field(default=None, exclude=True, repr=False)


class ClipResult(BaseModel):
    model_config = ConfigDict(extra="forbid")
    path: Path
    duration: Frac
    cost_usd: float = 0.0
    model: str = ""
    job_id: str | None = None
    seconds_generated: Frac = Fraction(0)
    metadata: dict[str, Any] = Field(default_factory=dict)


class Generator(abc.ABC):
    """A video model backend. Subclasses set `name`, implement `capabilities` and `generate`.

    `generate` is synchronous and thread-safe; the Director runs up to
    `capabilities().concurrency` of them at once in worker threads.

    Keyword options are parsed into `self.opts`, an instance of the class's `Options` (a pydantic
    model with `extra="forbid"`): a misspelt option is a ConfigError naming the valid ones."""

    name: ClassVar[str] = ""
    key_env: ClassVar[str | None] = None  # env var holding the API key, if any
    Options: ClassVar[type[GeneratorOptions]] = GeneratorOptions

    def __init__(self, model: str | None = None, **options: Any):
        self.model = model or ""
        self.opts = self.Options.parse(self.name or type(self).__name__, options)

    @abc.abstractmethod
    def capabilities(self) -> Capabilities: ...

    @abc.abstractmethod
    def generate(self, request: ClipRequest, progress: ProgressFn | None = None) -> ClipResult: ...

    def estimate_cost(self, seconds: Fraction) -> float:
        return float(seconds) * self.capabilities().price_per_second

    def close(self) -> None:  # release clients, pipelines
        pass
