"""`VideoSpec`: the one set of codec parameters every clip of a cut is made to share.

Clips that match it can be stream-copied into the cut; others are conformed to it first."""

from __future__ import annotations

from fractions import Fraction
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, field_validator

from ..timing import Frac
from .encode import X264_PRESETS, aac_args, h264_args, mp4_args
from .probe import MediaInfo



class VideoSpec(BaseModel):
    """Size, rate and codecs of a cut. `crf`/`preset` only steer re-encoding."""

    model_config = ConfigDict(extra="forbid")

    width: int
    height: int
    fps: Frac
    pix_fmt: str = "yuv420p"
    vcodec: Literal["h264"] = "h264"
    acodec: Literal["aac"] = "aac"
    sample_rate: int = 48000
    channels: int = 2
    crf: int = 20
    preset: str = "veryfast"
    audio_bitrate: str = "192k"

    @field_validator("width", "height")
    @classmethod
    def _even_positive(cls, v: int) -> int:
        if v <= 0 or v % 2:
            raise ValueError(f"frame sides must be positive and even (H.264 4:2:0), got {v}")
        return v

    @field_validator("fps")
    @classmethod
    def _sane_fps(cls, v: Fraction) -> Fraction:
        if not (Fraction(1) <= v <= Fraction(240)):
            raise ValueError(f"fps must be between 1 and 240, got {v}")
        return v

    @field_validator("crf")
    @classmethod
    def _crf_range(cls, v: int) -> int:
        if not 0 <= v <= 51:
            raise ValueError(f"crf must be 0..51, got {v}")
        return v

    @field_validator("preset")
    @classmethod
    def _known_preset(cls, v: str) -> str:
        if v not in X264_PRESETS:
            raise ValueError(f"unknown x264 preset {v!r}: use one of {', '.join(X264_PRESETS)}")
        return v

    @classmethod
    def from_plan(cls, plan: Any, **overrides: Any) -> "VideoSpec":
        """The spec of a `Plan` (its width, height and fps)."""
        return cls(width=plan.width, height=plan.height, fps=plan.fps, **overrides)

    @property
    def frame_duration(self) -> Fraction:
        return 1 / self.fps

    def seconds(self, frames: int) -> Fraction:
        return Fraction(frames) / self.fps

    def samples(self, frames: int) -> int:
        """Audio samples that last exactly as long as `frames` (rounded to the nearest sample)."""
        exact = Fraction(frames) * self.sample_rate / self.fps
        return int(exact + Fraction(1, 2))

    def mismatches(self, info: MediaInfo, *, audio: bool = False) -> list[str]:
        """Why `info` cannot be stream-copied into a cut of this spec (empty when it can)."""
        out = []
        if (info.width, info.height) != (self.width, self.height):
            out.append(f"size {info.width}x{info.height} != {self.width}x{self.height}")
        if info.fps != self.fps:
            out.append(f"fps {info.fps} != {self.fps}")
        if info.vcodec != self.vcodec:
            out.append(f"video codec {info.vcodec} != {self.vcodec}")
        if info.pix_fmt != self.pix_fmt:
            out.append(f"pixel format {info.pix_fmt} != {self.pix_fmt}")
        if not info.square_pixels:
            out.append(f"sample aspect ratio {info.sar} is not 1:1")
        if audio:
            if not info.has_audio:
                out.append("no audio")
            else:
                if info.acodec != self.acodec:
                    out.append(f"audio codec {info.acodec} != {self.acodec}")
                if info.sample_rate != self.sample_rate:
                    out.append(f"sample rate {info.sample_rate} != {self.sample_rate}")
                if info.audio_channels != self.channels:
                    out.append(f"audio channels {info.audio_channels} != {self.channels}")
        return out

    def matches(self, info: MediaInfo, *, audio: bool = False) -> bool:
        """True when the clip's video can be stream-copied into a cut of this spec.

        The cut rebuilds its audio track anyway, so audio is only compared when `audio=True`."""
        return not self.mismatches(info, audio=audio)

    def video_encoder_args(self) -> list[str]:
        return h264_args(preset=self.preset, crf=self.crf, pix_fmt=self.pix_fmt)

    def audio_encoder_args(self) -> list[str]:
        return aac_args(bitrate=self.audio_bitrate, sample_rate=self.sample_rate, channels=self.channels, fast_coder=True)

    def output_args(self) -> list[str]:
        """Encoder and muxer arguments for a finished file of this spec."""
        return [*self.video_encoder_args(), *self.audio_encoder_args(), *mp4_args(strip_metadata=True)]
