"""Seam check: does the first frame of a shot pick up where the previous shot's last frame left
off? Cheap pixel statistics flag a jump across a cut that the plan says is continuous.
Frames come from the media layer (`reelwright.media.frames`, PyAV with seeking)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

from ..critique.base import Check
from ..errors import MediaError
from ..media.frames import frames_by_index
from ..media.probe import probe
from ..plan import Plan

DEFAULT_SEAM_THRESHOLD = 0.12
_THUMB = (64, 64)
_BINS = 32


def frame_of(path: Path | str, index: int | None):
    """Frame `index` of a clip as a PIL image (None or past the end: the last frame)."""
    info = probe(path)
    if info.frames < 1:
        raise MediaError(f"no video frame in {path}")
    last = info.frames - 1
    return frames_by_index(path, [last if index is None else min(max(0, index), last)])[0]


def last_frame(path: Path | str):
    return frame_of(path, None)


def first_frame(path: Path | str):
    return frame_of(path, 0)


def frame_distance(a, b) -> dict[str, float]:
    """Mean absolute difference of small grayscale thumbnails and the total-variation distance of
    their 32-bin histograms, both in [0, 1], and `score`, their mean."""
    from PIL import Image

    ta = np.asarray(a.convert("L").resize(_THUMB, Image.BILINEAR), dtype=np.float64) / 255.0
    tb = np.asarray(b.convert("L").resize(_THUMB, Image.BILINEAR), dtype=np.float64) / 255.0
    mad = float(np.abs(ta - tb).mean())
    ha = np.histogram(ta, bins=_BINS, range=(0.0, 1.0))[0] / ta.size
    hb = np.histogram(tb, bins=_BINS, range=(0.0, 1.0))[0] / tb.size
    hist = float(0.5 * np.abs(ha - hb).sum())
    return {"mad": round(mad, 6), "hist": round(hist, 6), "score": round(0.5 * (mad + hist), 6)}


def seam_check(clip_a: Path | str, clip_b: Path | str, *, threshold: float = DEFAULT_SEAM_THRESHOLD,
               name: str = "seam", a_frame: int | None = None, b_frame: int = 0) -> Check:
    """Compare the last frame of `clip_a` with the first frame of `clip_b`; fail above `threshold`.

    Meant for cuts the plan marks continuous (`Shot.continues`); a hard cut between scenes
    would fail it by design. `a_frame`/`b_frame` pick other frames (the ones a trimmed cut joins)."""
    d = frame_distance(frame_of(clip_a, a_frame), frame_of(clip_b, b_frame))
    passed = d["score"] <= threshold
    verdict = "continuous" if passed else "jump across a cut that should be continuous"
    where_a = "last frame" if a_frame is None else f"frame {a_frame}"
    where_b = "first frame" if b_frame == 0 else f"frame {b_frame}"
    detail = (f"{verdict}: {where_a} of {Path(clip_a).name} vs {where_b} of {Path(clip_b).name}: "
              f"mean abs diff {d['mad']:.3f}, histogram distance {d['hist']:.3f}, "
              f"score {d['score']:.3f} (threshold {threshold:g})")
    return Check(name=name, passed=passed, detail=detail, value={**d, "threshold": threshold})


def check_seams(plan: Plan, clips: Mapping[str, Path | str], *, threshold: float = DEFAULT_SEAM_THRESHOLD,
                as_cut: bool = False) -> list[Check]:
    """A seam check for every shot that continues the previous one, when both clips exist.

    By default the clips' own last and first frames are compared (what a continuation starts
    from); `as_cut=True` compares the frames the cut joins after `in_frame`/`speed` trimming."""
    checks = []
    for prev, shot in zip(plan.shots, plan.shots[1:]):
        if shot.continues and prev.id in clips and shot.id in clips:
            a_frame = prev.in_frame + prev.source_frames - 1 if as_cut else None
            b_frame = shot.in_frame if as_cut else 0
            checks.append(seam_check(clips[prev.id], clips[shot.id], threshold=threshold,
                                     name=f"seam {prev.id}→{shot.id}", a_frame=a_frame, b_frame=b_frame))
    return checks
