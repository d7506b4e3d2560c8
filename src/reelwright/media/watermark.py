"""A visible watermark (text or an image) over a whole video, at a corner or the centre, at an opacity.

Applied once to the stitched cut: the picture is re-encoded, the sound is copied. The text is untrusted:
it reaches drawtext through a file with expansion off, as overlays do."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ..errors import InputFileError
from .encode import h264_args, mp4_args
from .ffmpeg import run_ffmpeg
from .fonts import find_font
from .probe import probe
from .util import atomic_output, check_distinct, filter_escape

Corner = Literal["top-left", "top-right", "bottom-left", "bottom-right", "center"]
MAX_IMAGE_PIXELS = 40_000_000  # a logo, not a poster: refuses decompression bombs before ffmpeg sees them


class Watermark(BaseModel):
    """What to stamp on every frame. Exactly one of `text` and `image`."""

    model_config = ConfigDict(extra="forbid")
    text: str | None = Field(None, max_length=200)
    image: Path | None = None
    position: Corner = "bottom-right"
    opacity: float = Field(0.6, gt=0, le=1)
    size: float = Field(0.05, gt=0, le=0.5)  # text height, or image width / 4, as a fraction of the frame

    @model_validator(mode="after")
    def _one_kind(self) -> "Watermark":
        if (self.text is None or not self.text.strip()) == (self.image is None):
            raise ValueError("a watermark is either text or an image")
        return self

    def describe(self) -> dict:
        return self.model_dump(mode="json", exclude_none=True)


def parse_watermark(value: str, *, position: str = "bottom-right", opacity: float = 0.6) -> Watermark:
    """`--watermark TEXT|IMAGE`: an existing image file is an image, anything else is text."""
    from pydantic import ValidationError

    from ..errors import BriefError

    path = Path(value).expanduser()
    is_image = path.suffix.lower() in (".png", ".jpg", ".jpeg", ".webp") and path.is_file()
    try:
        mark = Watermark(image=path if is_image else None, text=None if is_image else value,
                         position=position, opacity=opacity)  # type: ignore[arg-type]
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(map(str, err["loc"])) or "watermark"
        raise BriefError(f"--watermark {where}: {err['msg'].removeprefix('Value error, ')}") from None
    if mark.image is not None:
        check_image(mark.image)
    return mark


def check_image(path: Path) -> None:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            if im.width * im.height > MAX_IMAGE_PIXELS:
                raise InputFileError(f"watermark image {path} is {im.width}x{im.height}: too large for a watermark")
            im.verify()
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as exc:
        raise InputFileError(f"watermark image {path} is not a readable image ({exc.__class__.__name__})") from None


def _xy(position: str, margin: str, big_w: str, big_h: str, w: str, h: str) -> tuple[str, str]:
    """x and y expressions placing a w x h thing at `position` inside big_w x big_h, `margin` from the edges."""
    x = {"left": margin, "right": f"{big_w}-{w}-{margin}", "center": f"({big_w}-{w})/2"}
    y = {"top": margin, "bottom": f"{big_h}-{h}-{margin}", "center": f"({big_h}-{h})/2"}
    if position == "center":
        return x["center"], y["center"]
    vert, horiz = position.split("-")
    return x[horiz], y[vert]


def watermark_filters(mark: Watermark, width: int, height: int, workdir: Path) -> tuple[list[str], str]:
    """(extra input args, filter_complex from [0:v] to [v]) for the mark on a width x height picture."""
    margin = str(max(4, round(height * 0.03)))
    if mark.image is not None:
        check_image(mark.image)
        target_w = max(8, round(width * mark.size * 4)) // 2 * 2
        x, y = _xy(mark.position, margin, "main_w", "main_h", "overlay_w", "overlay_h")
        graph = (f"[1:v]scale={target_w}:-2,format=rgba,colorchannelmixer=aa={mark.opacity:.3f}[wm];"
                 f"[0:v][wm]overlay=x={filter_escape(x)}:y={filter_escape(y)}:eof_action=repeat:format=auto,"
                 f"format=yuv420p[v]")
        return ["-i", str(mark.image)], graph
    textfile = workdir / "watermark.txt"
    textfile.write_text(mark.text or "", encoding="utf-8")
    font_px = max(8, round(height * mark.size))
    x, y = _xy(mark.position, margin, "w", "h", "text_w", "text_h")
    opts = {"fontfile": str(find_font()), "textfile": str(textfile), "expansion": "none", "fontsize": str(font_px),
            "fontcolor": f"white@{mark.opacity:.3f}", "borderw": str(max(1, font_px // 16)),
            "bordercolor": f"black@{mark.opacity * 0.7:.3f}", "x": x, "y": y}
    return [], "[0:v]drawtext=" + ":".join(f"{k}={filter_escape(v)}" for k, v in opts.items()) + "[v]"


def apply_watermark(src: str | Path, dst: str | Path, mark: Watermark, *, preset: str = "veryfast", crf: int = 18,
                    progress=None) -> Path:
    """Stamp `mark` on every frame of `src` into `dst`: the same frames and timing, the sound copied."""
    check_distinct(src, dst)
    info = probe(src)
    with tempfile.TemporaryDirectory(prefix="rw-mark-") as tmp:
        extra, graph = watermark_filters(mark, info.width, info.height, Path(tmp))
        with atomic_output(dst) as out:
            run_ffmpeg(["-i", str(src), *extra, "-filter_complex", graph, "-map", "[v]", "-map", "0:a?",
                        "-fps_mode", "passthrough", *h264_args(preset=preset, crf=crf), "-c:a", "copy",
                        *mp4_args(), str(out)], progress=progress, duration_s=float(info.video_duration))
    return Path(dst)
