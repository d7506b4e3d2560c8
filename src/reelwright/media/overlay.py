"""Text drawn over video at exact times (titles, captions, calls to action) with ffmpeg's drawtext.

The text is untrusted: it goes to drawtext through a file with expansion off, so no character in it
can reach the filtergraph parser."""

from __future__ import annotations

import math
import re
import tempfile
import textwrap
from collections.abc import Callable, Sequence
from fractions import Fraction
from pathlib import Path

from ..errors import ToolArgumentError
from .conform import render
from .encode import mp4_args
from .ffmpeg import run_ffmpeg
from .fonts import find_font
from .probe import probe
from .spec import VideoSpec
from .util import atomic_output, check_distinct, filter_escape

_COLOR = re.compile(r"^(#|0x)?[0-9A-Fa-f]{6}([0-9A-Fa-f]{2})?(@[0-9.]+)?$|^[A-Za-z]+(@[0-9.]+)?$")
_MARGIN = 0.06  # of the frame height, from the top or bottom edge


def _y_expr(position: str) -> str:
    return {
        "center": "(h-text_h)/2",
        "top": f"h*{_MARGIN}",
        "bottom": f"h-text_h-h*{_MARGIN}",
        "lower-third": "h*3/4-text_h/2",
    }[position]


def wrap_text(text: str, width: int, font_px: int) -> str:
    """Break lines so the text fits within 90% of the frame width (DejaVu glyphs average ~0.55 em)."""
    max_chars = max(8, int(width * 0.9 / (font_px * 0.55)))
    lines = []
    for line in text.splitlines() or [""]:
        lines += textwrap.wrap(line, max_chars) or [""]
    return "\n".join(lines)


def drawtext_filters(overlays: Sequence, spec: VideoSpec, frames: int, workdir: Path, *,
                     offset: Fraction = Fraction(0)) -> list[str]:
    """One drawtext filter per overlay that shows within the clip's `frames` frames.

    An overlay shows on frame n when start <= n/fps + offset < end, judged on exact frame numbers."""
    font = find_font()
    filters = []
    for n, ov in enumerate(overlays):
        if not ov.text.strip():
            continue
        if ov.duration <= 0:
            raise ToolArgumentError(f"overlay {ov.text[:30]!r}: duration must be positive, got {ov.duration}")
        if not _COLOR.match(ov.color):
            raise ToolArgumentError(f"overlay color {ov.color!r} is not a color name or #RRGGBB")
        first = max(0, math.ceil((ov.start - offset) * spec.fps))
        last = min(frames, math.ceil((ov.end - offset) * spec.fps)) - 1
        if last < first:
            continue
        font_px = max(8, round(ov.size * spec.height))
        textfile = workdir / f"overlay{n:03d}.txt"
        textfile.write_text(wrap_text(ov.text, spec.width, font_px), encoding="utf-8")
        options = {
            "fontfile": str(font),
            "textfile": str(textfile),
            "expansion": "none",
            "fontsize": str(font_px),
            "fontcolor": ov.color,
            "line_spacing": str(max(2, font_px // 5)),
            "x": "(w-text_w)/2",
            "y": _y_expr(ov.position),
            "enable": f"between(n,{first},{last})",
        }
        if ov.box:
            options |= {"box": "1", "boxcolor": "black@0.5", "boxborderw": str(max(4, font_px // 3))}
        else:
            options |= {"borderw": str(max(1, font_px // 16)), "bordercolor": "black@0.7"}  # legible on any colour
        filters.append("drawtext=" + ":".join(f"{k}={filter_escape(v)}" for k, v in options.items()))
    return filters


def overlay_text(src: str | Path, dst: str | Path, overlays: Sequence, spec: VideoSpec, *,
                 offset: Fraction | float | int = 0, progress: Callable[[float], None] | None = None) -> Path:
    """Draw `overlays` (`reelwright.plan.Overlay`) on `src`, each only during its [start, end).

    Overlay times are seconds of the whole video; `offset` is where `src` starts in it (pass a shot's start
    to caption one shot's clip). The video is re-encoded to `spec`; the sound is kept."""
    check_distinct(src, dst)
    info = probe(src)
    offset = Fraction(offset)
    frames = info.frames if spec.matches(info) else round(info.video_duration * spec.fps)
    with tempfile.TemporaryDirectory(prefix="rw-text-") as tmp:
        filters = drawtext_filters(overlays, spec, frames, Path(tmp), offset=offset)
        if not filters:
            if spec.matches(info):
                # Nothing shows in this clip: the video is copied untouched.
                with atomic_output(dst) as out:
                    run_ffmpeg(["-i", str(src), "-map", "0", "-c", "copy", *mp4_args(), str(out)])
                return Path(dst)
        return render(src, dst, spec, frames=frames, vpost=filters, info=info, progress=progress)
