"""The card tool: title, end, logo and super cards drawn deterministically (text, a logo image, brand colours)
and encoded as a frame-exact H.264/AAC clip, because video models garble lettering and logos."""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

import numpy as np
from PIL import Image, ImageColor, ImageDraw, ImageOps, UnidentifiedImageError

from ..errors import InputFileError, ToolArgumentError
from ..generators import _cards  # the animatic's fonts and word wrap: one look for all drawn text
from .encode import h264_args, mp4_args
from .ffmpeg import run_ffmpeg
from .spec import VideoSpec
from .util import atomic_output

RGB = tuple[int, int, int]
DEFAULT_BACKGROUND: RGB = (22, 24, 29)
DEFAULT_ACCENT: RGB = (242, 242, 242)


def parse_colour(value: str) -> RGB:
    """'navy', '#1a2b3c' -> (r, g, b). Raises ToolArgumentError naming the value."""
    try:
        rgb = ImageColor.getrgb(value.strip())
    except (ValueError, AttributeError):
        raise ToolArgumentError(f"unknown colour {value!r}: use a name such as navy or a hex value such as #1a2b3c") from None
    return rgb[:3]  # type: ignore[return-value]


def _luma(c: RGB) -> float:
    return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2]


def _saturation(c: RGB) -> float:
    hi, lo = max(c), min(c)
    return 0.0 if hi == 0 else (hi - lo) / hi


def logo_colours(image: Image.Image, count: int = 2) -> list[RGB]:
    """The brand's colours read from its logo: the most used saturated colours first (a logo's white or
    black ground and its anti-aliased edges are not the brand), then the most used ones."""
    rgba = image.convert("RGBA")
    rgba.thumbnail((128, 128))
    ground = Image.new("RGBA", rgba.size, (255, 255, 255, 0))
    pixels = np.asarray(Image.alpha_composite(ground, rgba))
    opaque = pixels[pixels[..., 3] >= 128][:, :3]
    if not len(opaque):
        return []
    sample = Image.fromarray(np.ascontiguousarray(opaque.reshape(1, -1, 3)), "RGB")
    quant = sample.quantize(colors=8, method=Image.Quantize.MEDIANCUT)
    palette = quant.getpalette() or []
    used = sorted(((n, i) for n, i in quant.getcolors() or []), reverse=True)
    colours = [(tuple(palette[3 * i: 3 * i + 3]), n) for n, i in used]
    total = sum(n for _, n in colours)
    vivid = [c for c, n in colours if _saturation(c) > 0.25 and 30 < _luma(c) < 235 and n >= 0.03 * total]
    rest = [c for c, _ in colours if c not in vivid]
    return [c for c in vivid + rest][:count]  # type: ignore[misc]


def card_colours(colors: Sequence[str], logo: Image.Image | None) -> tuple[RGB, RGB]:
    """Background and ink: the colours given, else the logo's, else a neutral dark card.
    The ink is the accent when it stands out on the background, else white or near-black."""
    given = [parse_colour(c) for c in colors]
    found = given or (logo_colours(logo) if logo is not None else [])
    background = found[0] if found else DEFAULT_BACKGROUND
    accent = found[1] if len(found) > 1 else None
    if accent is None or abs(_luma(accent) - _luma(background)) < 90:
        accent = DEFAULT_ACCENT if _luma(background) < 140 else (20, 20, 24)
    return background, accent


def _open_logo(path: Path) -> Image.Image:
    try:
        with Image.open(path) as im:
            im.load()
            return im.copy()
    except FileNotFoundError:
        raise InputFileError(f"card logo {path} does not exist") from None
    except (UnidentifiedImageError, OSError) as exc:
        raise InputFileError(f"card logo {path} is not a readable image: {exc}") from exc


def draw_card_frame(size: tuple[int, int], *, text: str = "", subtitle: str = "", logo: Image.Image | None = None,
                    colors: Sequence[str] = ()) -> Image.Image:
    """One still card: the logo centred (above the text when both are given), the text large, the subtitle
    smaller, on a soft vertical gradient of the background colour."""
    w, h = size
    u = min(w, h)
    background, ink = card_colours(colors, logo)
    top = tuple(min(255, round(v * 1.12 + 6)) for v in background)
    bottom = tuple(round(v * 0.78) for v in background)
    ramp = Image.linear_gradient("L").resize((w, h))
    frame = Image.composite(Image.new("RGB", size, bottom), Image.new("RGB", size, top), ramp)  # type: ignore[arg-type]
    draw = ImageDraw.Draw(frame)
    f_text = _cards.font("bold", max(12, round(0.085 * u)))
    f_sub = _cards.font("regular", max(10, round(0.042 * u)))
    width = 0.84 * w
    text_lines = _cards.wrap(text, f_text, width, 3) if text.strip() else []
    sub_lines = _cards.wrap(subtitle, f_sub, width, 2) if subtitle.strip() else []
    lh_t, lh_s = round(f_text.size * 1.18), round(f_sub.size * 1.35)
    block = lh_t * len(text_lines) + (round(0.03 * u) + lh_s * len(sub_lines) if sub_lines else 0)
    logo_box = None
    if logo is not None:
        side = round((0.5 if not text_lines and not sub_lines else 0.34) * h)
        fitted = ImageOps.contain(logo.convert("RGBA"), (round(0.6 * w), side), Image.Resampling.LANCZOS)
        gap = round(0.05 * u) if block else 0
        y0 = round((h - fitted.height - gap - block) / 2)
        logo_box = ((w - fitted.width) // 2, y0)
        frame.paste(fitted, logo_box, fitted)
        y = y0 + fitted.height + gap
    else:
        y = round((h - block) / 2)
    for line in text_lines:
        draw.text((w / 2, y + lh_t / 2), line, font=f_text, fill=ink, anchor="mm")
        y += lh_t
    if sub_lines:
        y += round(0.03 * u)
        soft = tuple(round(a * 0.8 + b * 0.2) for a, b in zip(ink, background))
        for line in sub_lines:
            draw.text((w / 2, y + lh_s / 2), line, font=f_sub, fill=soft, anchor="mm")
            y += lh_s
    return frame


def render_card(out: str | Path, *, frames: int, spec: VideoSpec, text: str = "", subtitle: str = "",
                logo: str | Path | None = None, colors: Sequence[str] = ()) -> Path:
    """A card clip of exactly `frames` frames at `spec`'s size and rate, with silent audio of the same length:
    H.264/AAC that the cut stream-copies like any accepted clip. Free and deterministic."""
    if isinstance(frames, bool) or not isinstance(frames, int) or frames < 1:
        raise ToolArgumentError(f"a card needs at least one frame, got {frames!r}")
    if not (text.strip() or subtitle.strip() or logo):
        raise ToolArgumentError("a card needs text, a subtitle or a logo")
    image = _open_logo(Path(logo)) if logo else None
    still = draw_card_frame((spec.width, spec.height), text=text, subtitle=subtitle, logo=image, colors=colors)
    fps = Fraction(spec.fps)
    samples = spec.samples(frames)
    layout = "stereo" if spec.channels == 2 else "mono" if spec.channels == 1 else f"{spec.channels}c"
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="rw-card-") as td, atomic_output(out) as tmp:
        png = Path(td) / "card.png"
        still.save(png, compress_level=1)
        run_ffmpeg(["-loop", "1", "-framerate", f"{fps.numerator}/{fps.denominator}", "-i", png,
                    "-f", "lavfi", "-i", f"anullsrc=r={spec.sample_rate}:cl={layout}",
                    # both streams end by trim, not -frames:v (which would stop the muxer before the sound ends)
                    "-filter_complex", f"[0:v]trim=end_frame={frames},setpts=PTS-STARTPTS[v];"
                                       f"[1:a]atrim=end_sample={samples},asetpts=PTS-STARTPTS[a]",
                    "-map", "[v]", "-map", "[a]", "-fps_mode", "passthrough",
                    *h264_args(preset=spec.preset, crf=spec.crf, pix_fmt=spec.pix_fmt, threads=1, profile="high",
                               bt709=True),
                    *spec.audio_encoder_args(), *mp4_args(strip_metadata=True), "-f", "mp4", tmp])
    return out
