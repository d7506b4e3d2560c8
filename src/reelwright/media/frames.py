"""Single frames out of a video, by frame index or time, through PyAV with seeking.

For judges, seam checks and image-to-video references; only the frames asked for are kept in memory."""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any

import av

from ..errors import InputFileError, ToolArgumentError
from .probe import MediaInfo, probe
from .util import atomic_output

_SEEK_GAP_S = 2  # decode forward rather than seek when the next target is this close


def frames_at(src: str | Path, times: Sequence[Fraction | float | int], *, as_array: bool = False) -> list[Any]:
    """The frames shown at each of `times` (seconds from the video start), as PIL images (RGB) or, with
    `as_array=True`, uint8 arrays of shape (height, width, 3). Results come in the order asked;
    a time past the end gives the last frame."""
    info = probe(src)
    indexes = []
    for t in times:
        if t < 0:
            raise ToolArgumentError(f"time must not be negative, got {t}")
        indexes.append(min(info.frames - 1, math.floor(Fraction(t) * info.fps)))
    frames = _decode_indexes(Path(src), info, indexes)
    return [f.to_ndarray(format="rgb24") if as_array else f.to_image() for f in frames]


def frames_by_index(src: str | Path, indexes: Sequence[int], *, as_array: bool = False) -> list[Any]:
    """Like `frames_at`, by frame index (0-based, at the video's own fps)."""
    info = probe(src)
    for k in indexes:
        if not 0 <= k < info.frames:
            raise ToolArgumentError(f"frame {k} is out of range: {src} has {info.frames} frames")
    frames = _decode_indexes(Path(src), info, list(indexes))
    return [f.to_ndarray(format="rgb24") if as_array else f.to_image() for f in frames]


def extract_frame(src: str | Path, dst_png: str | Path, *, frame: int | None = None,
                  time: Fraction | float | None = None) -> Path:
    """Write one frame (by 0-based index, or the frame shown at `time` seconds) to a PNG."""
    if (frame is None) == (time is None):
        raise ToolArgumentError("extract_frame needs exactly one of frame= or time=")
    if frame is not None:
        image = frames_by_index(src, [frame])[0]
    else:
        image = frames_at(src, [time])[0]
    return _save_png(image, dst_png)


def extract_last_frame(src: str | Path, dst_png: str | Path) -> Path:
    """Write the clip's last frame to a PNG (the seed of an extend-from-last-frame shot)."""
    info = probe(src)
    frame = None
    with _open(Path(src)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        start = max(Fraction(0), info.video_duration - 2) + info.video_start
        container.seek(_to_pts(start, stream), stream=stream, backward=True)
        for frame in container.decode(stream):
            pass
        if frame is None:
            raise InputFileError(f"{src}: no frame could be decoded")
        image = frame.to_image()
    return _save_png(image, dst_png)


def _save_png(image: Any, dst: str | Path) -> Path:
    with atomic_output(dst) as tmp:
        image.save(tmp, format="PNG")
    return Path(dst)


def _open(path: Path):
    try:
        return av.open(str(path))
    except (av.error.FFmpegError, OSError) as exc:
        raise InputFileError(f"cannot read {path}: {getattr(exc, 'strerror', None) or exc}") from exc


def _to_pts(seconds: Fraction, stream) -> int:
    return int(Fraction(seconds) / Fraction(stream.time_base))


def _frame_index(frame, stream, info: MediaInfo) -> int:
    if frame.pts is None:
        return -1
    t = Fraction(frame.pts) * Fraction(stream.time_base) - info.video_start
    return round(t * info.fps)


def _decode_indexes(path: Path, info: MediaInfo, indexes: list[int]) -> list[Any]:
    """Decode the frames at `indexes`: visit them in order, seeking only across long gaps."""
    found: dict[int, Any] = {}
    with _open(path) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        decoded: Iterator[Any] | None = None
        prev = cur = None
        for k in sorted(set(indexes)):
            if decoded is None or _frame_index(cur, stream, info) + _SEEK_GAP_S * info.fps < k:
                container.seek(_to_pts(info.video_start + Fraction(k) / info.fps, stream), stream=stream,
                               backward=True)
                decoded, prev, cur = container.decode(stream), None, None
            while cur is None or _frame_index(cur, stream, info) < k:
                nxt = next(decoded, None)
                if nxt is None:
                    break  # past the end: keep the last frame
                prev, cur = cur, nxt
            if cur is None:
                raise InputFileError(f"{path}: could not decode frame {k}")
            if _frame_index(cur, stream, info) <= k or prev is None:
                found[k] = cur
            else:
                found[k] = prev  # no frame has exactly this index: the one on screen at that moment
    return [found[k] for k in indexes]
