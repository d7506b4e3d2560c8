"""History packing: bounded cost for any history length, newest frames at full size, determinism."""

from __future__ import annotations

import math

import numpy as np
import pytest

from reelwright.context.history import ANCHOR_TIER, pack_frames, pack_history, to_conditions
from reelwright.errors import BriefError

NS = [0, 1, 10, 1000, 100_000]
L = 256.0  # tokens in one full-size frame


def bound(anchors: int = 1, n0: int = 2) -> float:
    return (anchors + 2 * n0) * L


@pytest.mark.parametrize("budget", [math.inf, 2000.0, 3.3 * L, 1.5 * L, 0.0])
@pytest.mark.parametrize("n", NS)
def test_packed_cost_is_within_budget_and_bound(n, budget):
    packed = pack_history(n, full_cost=L, budget=budget)
    assert packed.cost <= min(budget, bound())
    assert packed.bound == bound()
    assert math.isclose(packed.cost, sum(f.cost for f in packed.frames))


@pytest.mark.parametrize("mode", [False, True], ids=["downsample", "stride"])
@pytest.mark.parametrize("budget", [math.inf, 3.3 * L])
def test_packed_cost_never_decreases_as_history_grows(mode, budget):
    lengths = sorted(set(NS) | set(range(0, 130)))
    costs = [pack_history(n, full_cost=L, budget=budget, temporal_stride_only=mode).cost for n in lengths]
    assert all(a <= b for a, b in zip(costs, costs[1:]))


def test_packed_cost_saturates_towards_the_bound():
    n0, anchors = 2, 1
    for n in (1000, 100_000):
        gap = bound(anchors, n0) - pack_history(n, full_cost=L, budget=math.inf, anchors=anchors, n0=n0).cost
        assert 0 < gap <= 4 * n0 * n0 * L / (n - anchors)
    assert pack_history(100_000, full_cost=L, budget=math.inf).cost - pack_history(1000, full_cost=L, budget=math.inf).cost < 0.01 * L


def test_packed_cost_is_flat_once_the_budget_binds():
    costs = {n: pack_history(n, full_cost=L, budget=3.3 * L).cost for n in (10, 1000, 100_000)}
    assert len(set(costs.values())) == 1
    assert costs[10] > 3 * L


@pytest.mark.parametrize("mode", [False, True], ids=["downsample", "stride"])
@pytest.mark.parametrize("n", NS)
def test_newest_frames_are_always_at_full_size(n, mode):
    packed = pack_history(n, full_cost=L, budget=3.3 * L, n0=2, temporal_stride_only=mode)
    by_index = {f.index: f for f in packed.frames}
    for i in range(max(0, n - 2), n):
        assert by_index[i].factor == 1


def test_tiers_double_in_length_and_halve_in_size():
    packed = pack_history(1000, full_cost=L, budget=math.inf, anchors=1, n0=2)
    per_tier: dict[int, list] = {}
    for f in packed.frames:
        per_tier.setdefault(f.tier, []).append(f)
    assert [f.index for f in per_tier[ANCHOR_TIER]] == [0]
    assert sorted(f.index for f in per_tier[0]) == [998, 999]
    for k in range(1, 8):  # full tiers of 1000 - 1 - 2 = 997 frames: 4+8+…+256 = 508 through tier 7
        assert len(per_tier[k]) == 2 * 2**k
        assert {f.factor for f in per_tier[k]} == {2**k}
        assert {f.cost for f in per_tier[k]} == {L / 4**k}
    newest_of_tier = [max(f.index for f in per_tier[k]) for k in range(0, 8)]
    assert newest_of_tier == sorted(newest_of_tier, reverse=True)  # older tiers hold older frames


def test_frames_past_the_budget_are_dropped_oldest_first():
    packed = pack_history(1000, full_cost=L, budget=3.3 * L)
    kept = [f.index for f in packed.frames if f.tier != ANCHOR_TIER]
    assert packed.dropped > 900
    assert kept == list(range(1000 - len(kept), 1000))  # a contiguous window of the newest frames
    assert packed.frames[0].index == 0 and packed.frames[0].tier == ANCHOR_TIER


def test_max_tier_drops_older_tiers():
    packed = pack_history(1000, full_cost=L, budget=math.inf, max_tier=2)
    assert len(packed.frames) == 1 + 2 + 4 + 8
    assert max(f.factor for f in packed.frames) == 4
    assert packed.bound == (1 + 2 * (1 + 0.5 + 0.25)) * L


def test_same_input_gives_same_output():
    a = pack_history(12345, full_cost=L, budget=4.2 * L, anchors=2, n0=3)
    b = pack_history(12345, full_cost=L, budget=4.2 * L, anchors=2, n0=3)
    assert a == b


def test_temporal_stride_keeps_full_frames_within_the_bound():
    packed = pack_history(100_000, full_cost=L, budget=math.inf, temporal_stride_only=True)
    assert {f.factor for f in packed.frames} == {1}
    assert packed.cost <= bound()
    gaps = [b - a for a, b in zip(packed.indices[1:], packed.indices[2:])]  # skip the anchor at 0
    assert gaps == sorted(gaps, reverse=True)  # the stride grows with age


def test_growth_other_than_two_has_its_own_bound():
    packed = pack_history(100_000, full_cost=L, budget=math.inf, growth=1, n0=3)
    assert packed.bound == pytest.approx((1 + 3 * 4 / 3) * L)
    assert packed.cost <= packed.bound


@pytest.mark.parametrize("kwargs, quoted", [
    ({"n_frames": -1}, "-1"),
    ({"full_cost": 0.0}, "0.0"),
    ({"budget": -5.0}, "-5.0"),
    ({"growth": 0}, "0"),
    ({"growth": 4, "budget": math.inf}, "growth 4"),
])
def test_bad_arguments_raise_quoting_the_value(kwargs, quoted):
    args = {"n_frames": 10, "full_cost": L, "budget": 1000.0, **kwargs}
    n = args.pop("n_frames")
    with pytest.raises(BriefError, match=quoted):
        pack_history(n, **args)


def _frames(n: int, w: int = 64, h: int = 32) -> list[np.ndarray]:
    return [np.full((h, w, 3), i % 256, dtype=np.uint8) for i in range(n)]


def test_pack_frames_downsamples_real_images_by_tier():
    frames = _frames(40)
    packed = pack_frames(frames, anchors=1, n0=2, min_side=8)  # 32 px → tiers up to factor 4
    sizes = {p.index: (p.factor, p.image.size) for p in packed}
    assert sizes[39] == (1, (64, 32)) and sizes[38] == (1, (64, 32)) and sizes[0] == (1, (64, 32))
    assert all(im_size == (64 // f, 32 // f) for f, im_size in sizes.values())
    assert max(f for f, _ in sizes.values()) == 4
    assert np.asarray(next(p.image for p in packed if p.index == 37))[0, 0, 0] == 37  # the right frame, box-filtered


def test_pack_frames_reads_paths(tmp_path):
    from PIL import Image

    paths = []
    for i, arr in enumerate(_frames(6)):
        p = tmp_path / f"f{i}.png"
        Image.fromarray(arr).save(p)
        paths.append(p)
    packed = pack_frames(paths, budget=3.0)
    assert [p.index for p in packed] == [0, 4, 5]
    assert all(p.image.size == (64, 32) for p in packed)


def test_to_conditions_lists_image_index_strength():
    packed = pack_frames(_frames(20), min_side=8)
    conds = to_conditions(packed, strength=0.9, index_offset=0, size=(64, 32))
    assert [c[1] for c in conds] == [p.index for p in packed]
    assert all(c[0].size == (64, 32) for c in conds)
    assert [c[2] for c in conds] == [pytest.approx(0.9 / p.factor) for p in packed]


@pytest.mark.slow  # imports diffusers (and torch)
def test_to_conditions_feed_ltx_video_condition():
    pytest.importorskip("diffusers")
    from diffusers.pipelines.ltx.pipeline_ltx_condition import LTXVideoCondition

    conds = [LTXVideoCondition(image=im, frame_index=i, strength=s)
             for im, i, s in to_conditions(pack_frames(_frames(12), min_side=8), size=(64, 32))]
    assert conds[-1].frame_index == 11 and conds[-1].strength == 1.0


def test_to_conditions_refuses_frames_before_the_offset():
    packed = pack_frames(_frames(5))
    with pytest.raises(BriefError, match="before index_offset 3"):
        to_conditions(packed, index_offset=3)


@pytest.mark.parametrize("growth, n0", [(1, 2), (1, 3), (2, 1), (2, 3), (3, 2)])
def test_temporal_stride_stays_within_the_bound_for_any_growth(growth, n0):
    for n in NS:
        packed = pack_history(n, full_cost=L, budget=math.inf, growth=growth, n0=n0, temporal_stride_only=True)
        assert packed.cost <= packed.bound
