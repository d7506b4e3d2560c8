"""What the person asked for: the `Brief`, and the sizes its aspect and resolution imply."""

from __future__ import annotations

import math
from fractions import Fraction
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from .errors import BriefError, LengthExceeded
from .timing import Frac, show

Mode = Literal["create-video", "short-film", "ugc-product", "brand-identity"]
MODES: tuple[str, ...] = ("create-video", "short-film", "ugc-product", "brand-identity")
ASPECTS: dict[str, tuple[int, int]] = {
    "16:9": (16, 9), "9:16": (9, 16), "1:1": (1, 1), "4:3": (4, 3),
    "3:4": (3, 4), "3:2": (3, 2), "2:3": (2, 3), "21:9": (21, 9),
}
RESOLUTIONS: dict[str, int] = {"360p": 360, "480p": 480, "540p": 540, "720p": 720, "1080p": 1080, "1440p": 1440, "2160p": 2160}
MAX_SECONDS_WITHOUT_ALLOW_LONG = 3600


def check_length(seconds: Fraction | float, allow_long: bool) -> None:
    """The one-hour limit, defined once: over an hour needs --allow-long (the planner and the Director call it)."""
    if seconds > MAX_SECONDS_WITHOUT_ALLOW_LONG and not allow_long:
        raise LengthExceeded(f"{float(seconds):g} s is over an hour; pass --allow-long to make it anyway")


class Reference(BaseModel):
    """A reference image the person gave, optionally named for the entity it shows."""

    model_config = ConfigDict(extra="forbid")
    path: Path
    name: str | None = None


class Brief(BaseModel):
    """The request. Every field but `request` has a default the planner may refine."""

    model_config = ConfigDict(extra="forbid")

    request: str
    mode: Mode | None = None  # None: the planner picks from the words
    duration: Frac | None = None  # seconds; None: from the words, else the mode's default
    aspect: str | None = None
    resolution: str = "720p"
    fps: Frac = Fraction(24)
    references: list[Reference] = Field(default_factory=list)
    generator: str = "animatic"
    llm: str = "builtin"
    budget_usd: float | None = None
    seed: int = 0
    allow_long: bool = False

    @field_validator("request")
    @classmethod
    def _request_not_empty(cls, v: str) -> str:
        if not v or not v.strip():
            raise BriefError("the request is empty: say what the video should show")
        return v.strip()

    @field_validator("aspect")
    @classmethod
    def _known_aspect(cls, v: str | None) -> str | None:
        if v is None:
            return v
        v = normalise_aspect(v)
        return v

    @field_validator("resolution")
    @classmethod
    def _known_resolution(cls, v: str) -> str:
        v = v.strip().lower()
        if v.isdecimal():
            v += "p"
        if v not in RESOLUTIONS:
            raise BriefError(f"unknown resolution {v!r}: use one of {', '.join(RESOLUTIONS)}")
        return v

    @field_validator("fps")
    @classmethod
    def _sane_fps(cls, v: Fraction) -> Fraction:
        if not (Fraction(1) <= v <= Fraction(120)):
            raise BriefError(f"fps {show(v)} is out of range: use 1 to 120")
        return v

    @field_validator("budget_usd")
    @classmethod
    def _finite_budget(cls, v: float | None) -> float | None:
        # nan compares false with everything, so an unchecked nan budget would disable the cap
        if v is not None and not (math.isfinite(v) and v >= 0):
            raise BriefError(f"budget must be a finite, non-negative number of USD, got {v}")
        return v

    @field_validator("duration")
    @classmethod
    def _positive_duration(cls, v: Fraction | None) -> Fraction | None:
        if v is not None and v <= 0:
            raise BriefError(f"duration must be positive, got {show(v)} s")
        return v


def normalise_aspect(value: str) -> str:
    text = value.strip().lower().replace("x", ":").replace("/", ":")
    aliases = {"vertical": "9:16", "portrait": "9:16", "square": "1:1", "widescreen": "16:9",
               "landscape": "16:9", "horizontal": "16:9", "cinema": "21:9"}
    text = aliases.get(text, text)
    if text not in ASPECTS:
        raise BriefError(f"unknown aspect {value!r}: use one of {', '.join(ASPECTS)} (or vertical, square, widescreen)")
    return text


def frame_size(aspect: str, resolution: str) -> tuple[int, int]:
    """(width, height) for an aspect at a resolution; the short side is the resolution, both even."""
    aw, ah = ASPECTS[normalise_aspect(aspect)]
    short = RESOLUTIONS[resolution]
    if aw >= ah:
        h, w = short, short * aw / ah
    else:
        w, h = short, short * ah / aw
    return _even(w), _even(h)


def _even(x: float) -> int:
    return max(2, int(round(x / 2)) * 2)


MAX_REFERENCE_BYTES = 50 * 1024 * 1024
MAX_REFERENCE_PIXELS = 40_000_000  # 8K is 33 Mpx; past this an image is a decompression bomb


def check_reference_files(refs: list[Reference]) -> None:
    """Raise InputFileError unless every reference is a readable image of sane size: file size and pixel
    count are checked before decoding, then the whole image is decoded once (a truncated file fails here,
    not after clips were paid for)."""
    import warnings

    from PIL import Image

    from .errors import InputFileError
    from .runs.files import check_regular

    for ref in refs:
        p = Path(ref.path)
        if not p.exists():
            raise InputFileError(f"reference image not found: {p}")
        check_regular(p, "reference image", MAX_REFERENCE_BYTES)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                with Image.open(p) as im:
                    w, h = im.size
                    if w * h > MAX_REFERENCE_PIXELS:
                        raise InputFileError(f"reference image {p} is {w}x{h}: too many pixels "
                                             f"(at most {MAX_REFERENCE_PIXELS // 1_000_000} Mpx)")
                    im.verify()
                with Image.open(p) as im:
                    im.load()
        except InputFileError:
            raise
        except (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError,
                Image.DecompressionBombWarning) as exc:
            raise InputFileError(f"reference is not a readable image: {p} ({exc.__class__.__name__})") from None
