"""Deterministic edits: speed, fades, reframing. Lengths are checked by probing; looks by pixels."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from reelwright.errors import ToolArgumentError
from reelwright.media import VideoSpec, change_speed, crop_to_aspect, fade, frames_by_index, probe
from reelwright.media.edit import atempo_chain

SPEC = VideoSpec(width=320, height=180, fps=24)


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    from .conftest import make_test_clip

    return make_test_clip(tmp_path_factory.mktemp("edit") / "clip.mp4", seconds=2, fps="24")


def test_double_speed_halves_picture_and_sound(clip, tmp_path):
    info = probe(change_speed(clip, tmp_path / "fast.mp4", 2, SPEC))
    assert info.frames == 24
    assert abs(info.audio_duration - 1) <= Fraction(1, 24)


def test_quarter_speed_chains_atempo_and_quadruples_length(clip, tmp_path):
    stages = [float(s.split("=")[1]) for s in atempo_chain(0.25)]
    assert len(stages) == 2 and all(0.5 <= s <= 100 for s in stages) and np.prod(stages) == pytest.approx(0.25)
    info = probe(change_speed(clip, tmp_path / "slow.mp4", Fraction(1, 4), SPEC))
    assert info.frames == 192
    assert abs(info.audio_duration - 8) <= Fraction(1, 24)


def test_speed_out_of_range_is_refused(clip, tmp_path):
    with pytest.raises(ToolArgumentError, match="between 1/16 and 16"):
        change_speed(clip, tmp_path / "x.mp4", 50, SPEC)


def test_fades_start_and_end_in_black(clip, tmp_path):
    out = fade(clip, tmp_path / "faded.mp4", SPEC, fade_in_frames=6, fade_out_frames=6)
    first, middle, last = frames_by_index(out, [0, 24, 47], as_array=True)
    assert first.mean() < 10 and last.mean() < 10
    assert middle.mean() > 60
    info = probe(out)
    assert info.frames == 48 and abs(info.audio_duration - 2) <= Fraction(1, 24)


def test_fades_longer_than_the_clip_are_refused(clip, tmp_path):
    with pytest.raises(ToolArgumentError, match="do not fit"):
        fade(clip, tmp_path / "x.mp4", SPEC, fade_in_frames=30, fade_out_frames=30)


def test_crop_to_aspect_reframes_to_vertical(clip, tmp_path):
    vertical = VideoSpec(width=180, height=320, fps=24)
    info = probe(crop_to_aspect(clip, tmp_path / "v.mp4", vertical))
    assert (info.width, info.height, info.frames) == (180, 320, 48)
