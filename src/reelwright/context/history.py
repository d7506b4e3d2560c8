"""History packing (after FramePack, arXiv 2504.12626): keep the newest frames at full size and
older ones ever smaller, so conditioning on a history of any length stays within a fixed budget.

With anchors A, n0 newest frames, tier k holding n0·g^k older frames at 1/2^k per axis (cost
L/4^k each) and g = 2, the packed cost is below (A + 2·n0)·L for every history length."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, Literal

from ..errors import BriefError

PackMode = Literal["downsample", "stride"]
ANCHOR_TIER = -1
# Past 2^24 per axis a frame is below one pixel of any real image; without `max_tier`, tiers stop
# here (which also keeps growth = 1 from walking through N/n0 tiers).
TIER_LIMIT = 24


@dataclass(frozen=True, slots=True)
class PackedFrame:
    index: int  # position in the history: 0 = oldest, n_frames - 1 = newest
    factor: int  # downsampling per axis: 1 = full size
    cost: float  # full_cost / factor**2
    tier: int  # ANCHOR_TIER for anchors, 0 for the newest n0, k ≥ 1 for older tiers


@dataclass(frozen=True)
class PackedHistory:
    """The frames kept, oldest first, and what they cost."""

    n_frames: int
    frames: tuple[PackedFrame, ...]
    cost: float
    bound: float  # the cost no history length can exceed: (A + n0·Σ(g/4)^k)·L
    budget: float
    full_cost: float
    mode: PackMode

    @property
    def naive_cost(self) -> float:
        """What passing every history frame at full size would cost."""
        return self.n_frames * self.full_cost

    @property
    def indices(self) -> list[int]:
        return [f.index for f in self.frames]

    @property
    def dropped(self) -> int:
        return self.n_frames - len(self.frames)


def _whole(name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise BriefError(f"{name} must be a whole number ≥ {minimum}, got {value!r}")
    return value


def _bound(anchors: int, n0: int, growth: int, max_tier: int | None) -> Fraction | None:
    """Upper bound on the packed cost in units of L, or None when it is unbounded (g ≥ 4)."""
    ratio = Fraction(growth, 4)
    if max_tier is not None:
        return anchors + n0 * sum(ratio**k for k in range(max_tier + 1))
    if ratio >= 1:
        return None if n0 else Fraction(anchors)
    return anchors + n0 / (1 - ratio)


def pack_history(n_frames: int, *, full_cost: float, budget: float, anchors: int = 1, n0: int = 2,
                 growth: int = 2, temporal_stride_only: bool = False, max_tier: int | None = None) -> PackedHistory:
    """Choose which of `n_frames` history frames to condition on, and at what size.

    The first `anchors` frames (the start image) and the newest `n0` stay at full size; tier k
    (k ≥ 1) holds the next n0·growth^k older frames at 1/2^k per axis; frames past `max_tier`
    (default `TIER_LIMIT`) or past the budget are dropped. When the budget cannot hold everything, the newest frames
    win (continuity of motion), then anchors, then tiers from newest to oldest; packing stops at
    the first frame that does not fit, so the cost never decreases as the history grows.

    `temporal_stride_only` is for backends that take full-size frames only: instead of shrinking
    tier-k frames to cost L/4^k, one full frame is kept each time the tiers' costs add up to
    another L (rounded), which samples older history at a stride that grows with age."""
    n_frames = _whole("n_frames", n_frames, 0)
    anchors = _whole("anchors", anchors, 0)
    n0 = _whole("n0", n0, 0)
    growth = _whole("growth", growth, 1)
    if max_tier is not None:
        max_tier = _whole("max_tier", max_tier, 0)
    if not (isinstance(full_cost, (int, float)) and math.isfinite(full_cost) and full_cost > 0):
        raise BriefError(f"full_cost must be a positive number, got {full_cost!r}")
    if not (isinstance(budget, (int, float)) and not math.isnan(budget) and budget >= 0):
        raise BriefError(f"budget must be a number ≥ 0, got {budget!r}")
    bound_units = _bound(anchors, n0, growth, max_tier)
    if bound_units is None and math.isinf(budget):
        raise BriefError(f"growth {growth} ≥ 4 has no cost bound: give a finite budget or max_tier")

    L = Fraction(full_cost)
    left: Fraction | None = None if math.isinf(budget) else Fraction(budget)
    n_anchor = min(anchors, n_frames)
    rest = n_frames - n_anchor  # history positions counted from the newest: index = n_frames - 1 - p
    chosen: list[PackedFrame] = []
    spent = Fraction(0)

    def fit(count: int, cost: Fraction) -> int:
        """How many of `count` frames at `cost` the budget still holds; spends it."""
        nonlocal left, spent
        n = count if left is None else min(count, int(left // cost))
        if left is not None:
            left -= n * cost
        spent += n * cost
        return n

    full = float(L)
    last = n_frames - 1
    t0 = min(n0, rest)
    k0 = fit(t0, L)
    chosen += [PackedFrame(last - p, 1, full, 0) for p in range(k0)]
    going = k0 == t0
    if going:
        ka = fit(n_anchor, L)
        chosen += [PackedFrame(i, 1, full, ANCHOR_TIER) for i in range(ka)]
        going = ka == n_anchor
    pos, tier = n0, 1
    # Stride mode keeps a running sum of what tier frames would have cost, in units of L; a
    # full frame is kept each time sum + 1/2 passes a whole number, never more frames than the
    # tiers' total cost allows (rounding up must not break the bound).
    acc = Fraction(1, 2)
    stride_room = None if bound_units is None else bound_units - anchors - n0
    last_tier = TIER_LIMIT if max_tier is None else max_tier
    while going and n0 and pos < rest and tier <= last_tier:
        count = min(n0 * growth**tier, rest - pos)
        share = Fraction(1, 4**tier)
        if not temporal_stride_only:
            n = fit(count, L * share)
            factor, cost = 2**tier, float(L * share)
            chosen += [PackedFrame(last - pos - j, factor, cost, tier) for j in range(n)]
            going = n == count
        else:
            after = acc + count * share
            for m in range(math.floor(acc) + 1, math.floor(after) + 1):
                if (stride_room is not None and m > stride_room) or fit(1, L) == 0:
                    going = False
                    break
                j = math.ceil((m - acc) / share) - 1
                chosen.append(PackedFrame(last - pos - j, 1, full, tier))
            acc = after
        pos += count
        tier += 1

    chosen.sort(key=lambda f: f.index)
    return PackedHistory(
        n_frames=n_frames,
        frames=tuple(chosen),
        cost=float(spent),
        bound=math.inf if bound_units is None else float(bound_units * L),
        budget=float(budget),
        full_cost=full,
        mode="stride" if temporal_stride_only else "downsample",
    )


@dataclass(frozen=True)
class PackedImage:
    index: int
    factor: int
    tier: int
    image: Any  # PIL.Image.Image, already downsampled by `factor`


def _open(frame: Any):
    from PIL import Image, UnidentifiedImageError

    from ..errors import InputFileError

    if isinstance(frame, (str, os.PathLike)):
        try:
            with Image.open(Path(frame)) as im:
                return im.convert("RGB")
        except FileNotFoundError as exc:
            raise InputFileError(f"history frame not found: {frame}") from exc
        except (UnidentifiedImageError, OSError) as exc:
            raise InputFileError(f"history frame is not a readable image: {frame}") from exc
    if isinstance(frame, Image.Image):
        return frame.convert("RGB")
    try:
        import numpy as np

        arr = np.asarray(frame)
    except Exception as exc:  # noqa: BLE001 - anything not array-like is a caller error
        raise BriefError(f"a history frame must be a path, PIL image or array, got {type(frame).__name__}") from exc
    if arr.ndim == 2 or (arr.ndim == 3 and arr.shape[2] in (3, 4)):
        return Image.fromarray(arr.astype("uint8")).convert("RGB")
    raise BriefError(f"a history frame array must be HxW or HxWx3, got shape {arr.shape}")


def pack_frames(frames: Sequence[Any], *, full_cost: float = 1.0, budget: float | None = None, anchors: int = 1,
                n0: int = 2, growth: int = 2, temporal_stride_only: bool = False, max_tier: int | None = None,
                min_side: int = 8) -> list[PackedImage]:
    """Pack real frames (paths, PIL images or HxWx3 arrays, oldest first) into images to condition on.

    Only kept frames are read. Tier-k frames are box-filtered down by 2^k per axis, which is
    what FramePack's larger patchify kernels amount to. Without `max_tier`, tiers stop where a
    frame's short side would fall below `min_side` pixels. `budget` is in `full_cost` units
    (default: no budget beyond the bound)."""
    from PIL import Image

    if not frames:
        return []
    if max_tier is None and not temporal_stride_only:
        newest = _open(frames[-1])
        short = min(newest.size)
        max_tier = max(0, int(math.floor(math.log2(max(1, short) / max(1, min_side)))))
    packed = pack_history(len(frames), full_cost=full_cost, budget=math.inf if budget is None else budget,
                          anchors=anchors, n0=n0, growth=growth, temporal_stride_only=temporal_stride_only,
                          max_tier=max_tier)
    out = []
    for f in packed.frames:
        im = _open(frames[f.index])
        if f.factor > 1:
            w, h = im.size
            im = im.resize((max(1, w // f.factor), max(1, h // f.factor)), Image.BOX)
        out.append(PackedImage(f.index, f.factor, f.tier, im))
    return out


def to_conditions(packed: Sequence[PackedImage], *, strength: float = 1.0, index_offset: int = 0,
                  falloff: bool = True, size: tuple[int, int] | None = None) -> list[tuple[Any, int, float]]:
    """(image, frame_index, strength) tuples, oldest first, for conditioning lists such as
    diffusers' `LTXVideoCondition(image=, frame_index=, strength=)` or a Wan VACE frame list.

    `frame_index` is the history index minus `index_offset` (the first frame of the window being
    generated) and must not be negative. With `falloff`, a frame shrunk by f is given strength/f:
    blurred old frames steer less. `size` (w, h) scales every image back to one size, for
    pipelines that need equal sizes (they would resize anyway)."""
    from PIL import Image

    if not (0.0 <= strength <= 1.0):
        raise BriefError(f"strength must be between 0 and 1, got {strength!r}")
    out = []
    for p in packed:
        idx = p.index - index_offset
        if idx < 0:
            raise BriefError(f"frame {p.index} falls before index_offset {index_offset}")
        im = p.image.resize(size, Image.BICUBIC) if size is not None and p.image.size != tuple(size) else p.image
        out.append((im, idx, strength / p.factor if falloff else strength))
    return out
