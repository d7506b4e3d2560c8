"""Still previews of a video: a thumbnail and a spritesheet, cached beside the video they show."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

SPRITE_COLUMNS, SPRITE_ROWS, SPRITE_WIDTH = 5, 2, 192


def thumbnail(video: Path, cache_dir: Path, *, key: str = "thumbnail") -> Path:
    """The middle frame as WebP (what the Videos protocol serves as `thumbnail`)."""
    from ..media import frames_at, probe

    dst = cache_dir / f".{key}-{video.stat().st_mtime_ns}.webp"
    if not dst.is_file():
        info = probe(video)
        image = frames_at(video, [Fraction(info.frames // 2) / info.fps])[0]
        _save(image, dst, "WEBP")
    return dst


def spritesheet(video: Path, cache_dir: Path) -> Path:
    """Ten evenly spaced frames in a 5x2 grid, as JPEG."""
    from PIL import Image

    from ..media import frames_at, probe

    dst = cache_dir / f".spritesheet-{video.stat().st_mtime_ns}.jpg"
    if dst.is_file():
        return dst
    info = probe(video)
    n = SPRITE_COLUMNS * SPRITE_ROWS
    times = [Fraction(int(info.frames * (i + Fraction(1, 2)) / n)) / info.fps for i in range(n)]
    frames = frames_at(video, times)
    w = SPRITE_WIDTH
    h = max(2, round(w * info.height / max(1, info.width)))
    sheet = Image.new("RGB", (w * SPRITE_COLUMNS, h * SPRITE_ROWS))
    for i, frame in enumerate(frames):
        sheet.paste(frame.resize((w, h)), ((i % SPRITE_COLUMNS) * w, (i // SPRITE_COLUMNS) * h))
    _save(sheet, dst, "JPEG")
    return dst


def _save(image, dst: Path, fmt: str) -> None:
    """Write to a temp name, then rename: two requests never serve half an image."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(dst.name + ".part")
    image.save(tmp, format=fmt, quality=85)
    tmp.replace(dst)
