"""Frames taken out of accepted clips for the next shot: the packed history a continuing shot is
conditioned on (context.md point 3) and the last frame for one-image backends. Image I/O lives here so
the Director only says which clips a shot continues."""

from __future__ import annotations

import math
from pathlib import Path

from ..errors import InputFileError
from ..generators.base import HistoryFrame
from .history import pack_frames, pack_history, to_conditions

HISTORY_SAMPLES_PER_SECOND = 2  # history frames sampled per second of earlier clips (plus each clip's last)
HISTORY_MIN_SIDE = 16  # older history frames shrink no smaller than this many pixels on the short side


def last_frame_png(clip: Path, png: Path) -> Path:
    """The clip's last frame as a PNG (a one-image backend continues from it)."""
    from ..media import extract_last_frame

    extract_last_frame(clip, png)
    return png


def packed_history(clips: list[Path], user_image: Path | None, *, width: int, height: int, fps, budget: int,
                   full_size: bool, cache: Path, out_dir: Path,
                   frame_counts: dict[Path, int] | None = None) -> tuple[list[HistoryFrame], int]:
    """Frames sampled from `clips` (a continuous chain, oldest first) plus an anchor (the chain's user
    image, else its first frame), packed into `budget` full-frame equivalents and written as PNGs in
    `out_dir`, oldest first. Returns the frames and how many were sampled before packing."""
    from PIL import Image, ImageOps

    from ..media import frames_by_index, probe
    from ..media.util import atomic_output

    counts = frame_counts if frame_counts is not None else {}
    stride = max(1, round(fps / HISTORY_SAMPLES_PER_SECOND))
    # (png, clip, frame, position on the chain's timeline); each clip starts on the frame the one before
    # it ended on, so its frame 0 is not sampled again. Sampling runs back from each clip's last frame.
    anchor_png = cache / (f"{clips[0].stem}-image.png" if user_image else f"{clips[0].stem}-00000.png")
    frames: list[tuple[Path, Path | None, int, int]] = [(anchor_png, None if user_image else clips[0], 0, 0)]
    start = 0
    for clip in clips:
        if clip not in counts:
            counts[clip] = probe(clip).frames
        n = counts[clip]
        frames += [(cache / f"{clip.stem}-{f:05d}.png", clip, f, start + f) for f in sorted(range(n - 1, 0, -stride))]
        start += n - 1
    opts = dict(full_cost=1.0, budget=budget, anchors=1, n0=max(1, (budget - 1) // 2),  # bound 1 + 2·n0 ≤ budget
                temporal_stride_only=full_size,
                max_tier=None if full_size else max(0, math.floor(math.log2(max(1, min(width, height)) / HISTORY_MIN_SIDE))))
    wanted: dict[Path, list[tuple[int, Path]]] = {}
    for k in pack_history(len(frames), **opts).indices:  # extract only the frames that will be kept
        png, clip, f, _ = frames[k]
        if png.is_file():
            continue
        if clip is None:
            try:
                with Image.open(user_image) as im, atomic_output(png) as tmp:
                    ImageOps.fit(im.convert("RGB"), (width, height), method=Image.Resampling.LANCZOS).save(tmp, format="PNG")
            except OSError as exc:
                raise InputFileError(f"cannot read the first-frame image {user_image}: {exc}") from exc
        else:
            wanted.setdefault(clip, []).append((f, png))
    for clip, todo in wanted.items():
        for (_, png), image in zip(todo, frames_by_index(clip, [f for f, _ in todo])):
            with atomic_output(png) as tmp:
                image.save(tmp, format="PNG")
    packed = pack_frames([png for png, *_ in frames], **opts)
    out_dir.mkdir(exist_ok=True)
    for old in out_dir.glob("*.png"):
        old.unlink()
    newest = frames[-1][3]
    history = []
    for n, (p, (image, k, strength)) in enumerate(zip(packed, to_conditions(packed))):
        png = out_dir / f"{n:02d}-x{p.factor}.png"
        with atomic_output(png) as tmp:
            image.save(tmp, format="PNG")
        history.append(HistoryFrame(path=png, frame_index=frames[k][3] - newest, factor=p.factor, strength=strength))
    return history, len(frames)
