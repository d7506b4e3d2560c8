"""overlay_text(): text shows only inside its window, survives hostile strings, finds a real font."""

from __future__ import annotations

import shutil
from fractions import Fraction

import numpy as np
import pytest

from reelwright.errors import MissingDependencyError, ToolArgumentError
from reelwright.media import VideoSpec, conform, find_font, frames_by_index, overlay_text, probe
from reelwright.plan import Overlay

SPEC = VideoSpec(width=320, height=180, fps=24)
NASTY = "50% OFF: it's \"here\" \\ now {x} [a,b;c] %{pts} 'q' $HOME\nsecond line"


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    from .conftest import make_test_clip

    folder = tmp_path_factory.mktemp("overlay")
    return conform(make_test_clip(folder / "src.mp4", seconds=2), folder / "base.mp4", SPEC)


def _centre_diff(a: np.ndarray, b: np.ndarray) -> float:
    """Mean difference in the middle band, where a centred caption sits."""
    return float(np.abs(a[70:110, 40:280].astype(int) - b[70:110, 40:280].astype(int)).mean())


def test_text_shows_only_inside_its_window(base, tmp_path):
    out = overlay_text(base, tmp_path / "out.mp4", [Overlay(text="HELLO", start=Fraction(1, 2), duration=Fraction(1, 2), size=0.2)],
                       SPEC)
    index = [11, 12, 18, 23, 24, 36]  # window is frames 12..23
    before, after = frames_by_index(base, index, as_array=True), frames_by_index(out, index, as_array=True)
    diffs = [_centre_diff(a, b) for a, b in zip(before, after)]
    assert all(d > 15 for d in diffs[1:4]), diffs
    assert all(d < 4 for d in (diffs[0], diffs[4], diffs[5])), diffs
    assert probe(out).frames == 48


def test_offset_places_a_video_time_inside_a_shot_clip(base, tmp_path):
    overlay = Overlay(text="LATER", start=Fraction(21, 2), duration=1, size=0.2)  # 10.5 s into the video
    out = overlay_text(base, tmp_path / "out.mp4", [overlay], SPEC, offset=10)  # this clip starts at 10 s
    before, after = frames_by_index(base, [6, 18], as_array=True), frames_by_index(out, [6, 18], as_array=True)
    assert _centre_diff(before[0], after[0]) < 4
    assert _centre_diff(before[1], after[1]) > 15


def test_hostile_text_is_drawn_literally(base, tmp_path):
    out = overlay_text(base, tmp_path / "out.mp4", [Overlay(text=NASTY, start=0, duration=2, position="bottom")], SPEC)
    assert probe(out).frames == 48
    plain = overlay_text(base, tmp_path / "plain.mp4", [Overlay(text="50% OFF", start=0, duration=2,
                                                                position="bottom")], SPEC)
    a, b = frames_by_index(out, [5], as_array=True)[0], frames_by_index(plain, [5], as_array=True)[0]
    assert np.abs(a.astype(int) - b.astype(int)).mean() > 1  # more text drawn, nothing expanded away


def test_font_path_with_filtergraph_characters_works(base, tmp_path, monkeypatch):
    odd_dir = tmp_path / "we:ird's [fonts], here;"
    odd_dir.mkdir()
    font = shutil.copy(find_font(), odd_dir / "font.ttf")
    monkeypatch.setenv("REELWRIGHT_FONT", str(font))
    out = overlay_text(base, tmp_path / "out.mp4", [Overlay(text="ok", start=0, duration=1)], SPEC)
    assert probe(out).frames == 48


def test_overlay_outside_the_clip_leaves_the_video_untouched(base, tmp_path):
    import av

    out = overlay_text(base, tmp_path / "out.mp4", [Overlay(text="later", start=5, duration=1)], SPEC)
    with av.open(str(base)) as a, av.open(str(out)) as b:
        assert [bytes(p) for p in a.demux(video=0)] == [bytes(p) for p in b.demux(video=0)]


def test_bad_colour_is_refused(base, tmp_path):
    with pytest.raises(ToolArgumentError, match="color"):
        overlay_text(base, tmp_path / "out.mp4", [Overlay(text="x", start=0, duration=1, color="red:x=0")], SPEC)


def test_missing_font_names_the_fix(monkeypatch, tmp_path):
    monkeypatch.setenv("REELWRIGHT_FONT", str(tmp_path / "none.ttf"))
    with pytest.raises(MissingDependencyError, match="REELWRIGHT_FONT"):
        find_font()
