"""Shot duration allocation: exact frame totals from the durations a generator can make."""

from __future__ import annotations

import math
from fractions import Fraction

import pytest

from reelwright.errors import BriefError
from reelwright.generators.base import Capabilities
from reelwright.planning.durations import Allocation, DurationRange, allocate_durations, allowed_durations, apportion
from reelwright.timing import seconds_to_frames

NTSC = Fraction(30000, 1001)
VEO = [Fraction(4), Fraction(6), Fraction(8)]
RUNWAY = [Fraction(5), Fraction(10)]
LUMA = [Fraction(5), Fraction(9)]
GROK = DurationRange(Fraction(1), Fraction(15), Fraction(1))
ANIMATIC = DurationRange(Fraction(1, 2), Fraction(30), Fraction(1, 4))
MENUS = {"veo": VEO, "runway": RUNWAY, "luma": LUMA, "grok": GROK, "animatic": ANIMATIC}


def _values(allowed) -> set[Fraction]:
    if isinstance(allowed, DurationRange):
        return {allowed.value(k) for k in range(allowed.count)}
    return set(allowed)


def _check(allocs: list[Allocation], target: int, fps: Fraction, allowed, n_beats: int) -> None:
    assert sum(a.frames for a in allocs) == target
    values = _values(allowed)
    for a in allocs:
        assert a.gen_duration in values
        assert 1 <= a.frames <= math.floor(a.gen_duration * fps)
    beats = [a.beat for a in allocs]
    assert beats == sorted(beats)  # beats stay in order
    assert set(beats) == set(range(n_beats))  # every beat has a shot


@pytest.mark.parametrize("menu", sorted(MENUS))
@pytest.mark.parametrize("fps", [Fraction(24), NTSC, Fraction(25)])
@pytest.mark.parametrize("seconds", [7, 60, 61, 90])
@pytest.mark.parametrize("n_beats", [1, 4, 6])
def test_frames_add_up_exactly_with_allowed_durations(menu, fps, seconds, n_beats):
    target = seconds_to_frames(Fraction(seconds), fps)
    allocs = allocate_durations(target, fps, MENUS[menu], n_beats)
    _check(allocs, target, fps, MENUS[menu], n_beats)


def test_seven_seconds_from_eight_second_clips_is_one_trimmed_shot():
    [shot] = allocate_durations(168, Fraction(24), [Fraction(8)], 1)
    assert (shot.gen_duration, shot.frames) == (8, 168)


def test_nine_seconds_from_eight_second_clips_is_two_even_shots():
    allocs = allocate_durations(216, Fraction(24), [Fraction(8)], 1)
    assert [a.frames for a in allocs] == [108, 108]


def test_runway_minute_in_six_beats_is_six_full_ten_second_clips():
    allocs = allocate_durations(1440, Fraction(24), RUNWAY, 6)
    assert [(a.gen_duration, a.frames) for a in allocs] == [(10, 240)] * 6


def test_veo_minute_in_eight_beats_wastes_no_generated_second():
    allocs = allocate_durations(1440, Fraction(24), VEO, 8)
    assert len(allocs) == 8
    assert sum(a.gen_duration for a in allocs) == 60
    assert sorted(a.gen_duration for a in allocs) == [6, 6, 8, 8, 8, 8, 8, 8]


def test_veo_beats_longer_than_a_clip_get_more_shots_and_keep_their_time():
    allocs = allocate_durations(1440, Fraction(24), VEO, 6)
    per_beat = [sum(a.frames for a in allocs if a.beat == b) for b in range(6)]
    assert len(allocs) == 12
    assert per_beat == [240] * 6
    assert sum(a.gen_duration for a in allocs) == 60


def test_grok_range_snaps_to_whole_seconds_without_waste():
    allocs = allocate_durations(1464, Fraction(24), GROK, 4)
    _check(allocs, 1464, Fraction(24), GROK, 4)
    assert sum(a.gen_duration for a in allocs) == 61


def test_ntsc_minute_on_veo_is_exact_with_at_most_one_clip_of_waste():
    target = seconds_to_frames(Fraction(60), NTSC)
    assert target == 1798
    allocs = allocate_durations(target, NTSC, VEO, 6)
    _check(allocs, target, NTSC, VEO, 6)
    assert sum(a.gen_duration for a in allocs) - Fraction(target) / NTSC < 4


def test_shots_are_not_absurdly_short():
    for menu in ("veo", "runway", "grok", "animatic"):
        allocs = allocate_durations(1440, Fraction(24), MENUS[menu], 4)
        assert min(a.frames for a in allocs) >= 48, menu  # ≥ 2 s used


def test_an_hour_at_24_fps():
    allocs = allocate_durations(86400, Fraction(24), VEO, 6)
    _check(allocs, 86400, Fraction(24), VEO, 6)
    assert len(allocs) == 450


def test_an_hour_at_ntsc_fps():
    target = seconds_to_frames(Fraction(3600), NTSC)
    allocs = allocate_durations(target, NTSC, VEO, 3)
    _check(allocs, target, NTSC, VEO, 3)


def test_a_frame_fine_range_gives_the_same_shots_as_listing_it():
    step = Fraction(1, 24)
    rng = DurationRange(Fraction(1), Fraction(20), step)
    listed = [rng.value(k) for k in range(rng.count)]
    assert len(listed) == 457
    assert allocate_durations(1500, Fraction(24), rng, 5) == allocate_durations(1500, Fraction(24), listed, 5)


def test_a_very_fine_range_is_not_enumerated():
    rng = DurationRange(Fraction(1, 1000), Fraction(3600), Fraction(1, 1000))  # 3.6 million values
    allocs = allocate_durations(86400, Fraction(24), rng, 3)
    assert [a.frames for a in allocs] == [28800] * 3
    assert all(a.gen_duration == 1200 for a in allocs)  # an exact fit, found without listing the range


def test_weights_share_the_time():
    allocs = allocate_durations(960, Fraction(24), ANIMATIC, 2, weights=[1, 3])
    assert [a.frames for a in allocs] == [240, 720]


def test_min_shots_adds_shots():
    allocs = allocate_durations(960, Fraction(24), ANIMATIC, 2, min_shots=4)
    assert len(allocs) == 4
    assert sum(a.frames for a in allocs) == 960


def test_allowed_durations_keeps_ranges_unlisted():
    ranged = Capabilities(name="r", min_duration=Fraction(1), max_duration=Fraction(20), duration_step=Fraction(1, 24))
    assert allowed_durations(ranged) == DurationRange(Fraction(1), Fraction(20), Fraction(1, 24))
    listed = Capabilities(name="l", durations=[Fraction(8), Fraction(4), Fraction(6), Fraction(4)])
    assert allowed_durations(listed) == VEO


def test_apportion_is_exact_and_bounded():
    parts = apportion(100, [Fraction(1), Fraction(1), Fraction(1)], lo=1, hi=40)
    assert parts == [34, 33, 33]
    assert apportion(100, [Fraction(1), Fraction(10)], lo=1, hi=60) == [40, 60]


@pytest.mark.parametrize(("call", "quoted"), [
    (lambda: allocate_durations(0, Fraction(24), VEO, 1), "0"),
    (lambda: allocate_durations(100, Fraction(24), [], 1), "none"),
    (lambda: allocate_durations(100, Fraction(24), [Fraction(1, 100)], 1), "0.01"),
    (lambda: allocate_durations(5, Fraction(24), VEO, 10), "10 beats"),
    (lambda: allocate_durations(100, Fraction(24), VEO, 2, weights=[1]), "1 weights"),
    (lambda: allocate_durations(100, Fraction(24), VEO, 2, weights=[1, 0]), "positive"),
])
def test_impossible_requests_raise_brief_errors_quoting_values(call, quoted):
    with pytest.raises(BriefError, match=quoted):
        call()
