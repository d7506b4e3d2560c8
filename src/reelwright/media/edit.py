"""Deterministic edits of one clip, for "edit by request": speed, fades, reframing to another aspect.

Each re-encodes to a `VideoSpec` and keeps video and sound exactly the same length."""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

from ..errors import ToolArgumentError
from ..timing import seconds_to_frames
from .conform import conform, render
from .probe import probe
from .spec import VideoSpec
from .util import filter_escape

Progress = Callable[[float], None]


def atempo_chain(factor: Fraction | float) -> list[str]:
    """atempo filters whose product is `factor` (one atempo stage only accepts 0.5..100)."""
    factor = float(factor)
    stages = []
    while factor < 0.5:
        stages.append("atempo=0.5")
        factor /= 0.5
    while factor > 100:
        stages.append("atempo=100")
        factor /= 100
    stages.append(f"atempo={factor:.6f}")
    return stages


def change_speed(src: str | Path, dst: str | Path, factor: Fraction | float | int, spec: VideoSpec, *,
                 progress: Progress | None = None) -> Path:
    """Play `src` `factor` times as fast (2 = twice as fast, half as long); pitch is kept.

    The result lasts round(source duration / factor) frames at the spec's fps, sound included."""
    factor = Fraction(repr(factor)) if isinstance(factor, float) else Fraction(factor)
    if not Fraction(1, 16) <= factor <= 16:
        raise ToolArgumentError(f"speed factor must be between 1/16 and 16, got {float(factor):g}")
    info = probe(src)
    frames = seconds_to_frames(info.video_duration / factor, spec.fps)
    if frames <= 0:
        raise ToolArgumentError(f"speeding {src} up {float(factor):g}x leaves no frames")
    return render(src, dst, spec, frames=frames, info=info, vpre=[f"setpts=PTS*{float(1 / factor):.9f}"],
                  apre=atempo_chain(factor), progress=progress)


def fade(src: str | Path, dst: str | Path, spec: VideoSpec, *, fade_in_frames: int = 0, fade_out_frames: int = 0,
         color: str = "black", progress: Progress | None = None) -> Path:
    """Fade picture and sound in from / out to `color` over whole frames at the clip's start and end."""
    info = probe(src)
    frames = seconds_to_frames(info.video_duration, spec.fps)
    if fade_in_frames < 0 or fade_out_frames < 0 or fade_in_frames + fade_out_frames > frames:
        raise ToolArgumentError(f"fades of {fade_in_frames}+{fade_out_frames} frames do not fit a {frames}-frame clip")
    vpost, apost = [], []
    total_samples = spec.samples(frames)
    if fade_in_frames:
        vpost.append(f"fade=t=in:s=0:n={fade_in_frames}:color={filter_escape(color)}")
        apost.append(f"afade=t=in:ss=0:ns={spec.samples(fade_in_frames)}")
    if fade_out_frames:
        # ffmpeg's fade-out reaches black one frame after its last step: start a frame early so the final
        # frame is fully black.
        start = max(0, frames - fade_out_frames - 1)
        vpost.append(f"fade=t=out:s={start}:n={frames - 1 - start}:color={filter_escape(color)}")
        ns = spec.samples(fade_out_frames)
        apost.append(f"afade=t=out:ss={total_samples - ns}:ns={ns}")
    return render(src, dst, spec, frames=frames, info=info, vpost=vpost, apost=apost, progress=progress)


def crop_to_aspect(src: str | Path, dst: str | Path, spec: VideoSpec, *, progress: Progress | None = None) -> Path:
    """Reframe to the spec's size and aspect (e.g. 16:9 to 9:16) by scaling to fill and cropping the centre."""
    return conform(src, dst, spec, fit="fill", progress=progress)
