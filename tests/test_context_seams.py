"""Seam check: the last frame of a shot against the first frame of the next."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from reelwright.brief import Brief
from reelwright.context.seams import check_seams, first_frame, last_frame, seam_check
from reelwright.errors import InputFileError
from reelwright.media.ffmpeg import run_ffmpeg
from reelwright.plan import Plan, Shot

X264 = ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]


def split_source(a: Path, b: Path, seconds: int = 1) -> tuple[Path, Path]:
    """One lavfi source cut in two at `seconds`: a continuous cut."""
    graph = (f"testsrc2=size=320x180:rate=24:duration={2 * seconds},split=2[x][y];"
             f"[x]trim=0:{seconds},setpts=PTS-STARTPTS[a];[y]trim={seconds}:{2 * seconds},setpts=PTS-STARTPTS[b]")
    run_ffmpeg(["-filter_complex", graph, "-map", "[a]", *X264, str(a), "-map", "[b]", *X264, str(b)])
    return a, b


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    d = tmp_path_factory.mktemp("seams")
    a, b = split_source(d / "a.mp4", d / "b.mp4")
    bars = d / "bars.mp4"
    run_ffmpeg(["-f", "lavfi", "-i", "smptebars=size=320x180:rate=24:duration=1", *X264, str(bars)])
    return {"a": a, "b": b, "bars": bars}


def test_continuous_cut_passes(clips):
    check = seam_check(clips["a"], clips["b"], threshold=0.12)
    assert check.passed, check.detail
    assert check.value["score"] < 0.05


def test_jump_to_another_source_is_flagged(clips):
    check = seam_check(clips["a"], clips["bars"], threshold=0.12)
    assert not check.passed
    assert check.value["score"] > 0.3
    assert "jump" in check.detail and "a.mp4" in check.detail and "bars.mp4" in check.detail


def test_last_frame_is_the_final_decoded_frame(tmp_path):
    a, _ = split_source(tmp_path / "a3.mp4", tmp_path / "b3.mp4", seconds=3)  # long enough to seek
    with av.open(str(a)) as c:
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    assert len(frames) == 72
    assert np.array_equal(np.asarray(last_frame(a)), frames[-1])
    assert np.array_equal(np.asarray(first_frame(a)), frames[0])


def test_check_seams_checks_only_shots_that_continue(clips):
    shots = [Shot(id="s01", beat="walk", frames=24, start_frame=0),
             Shot(id="s02", beat="walk on", frames=24, start_frame=24, continues=True),
             Shot(id="s03", beat="new scene", frames=24, start_frame=48),
             Shot(id="s04", beat="but continued", frames=24, start_frame=72, continues=True)]
    plan = Plan(brief=Brief(request="walk"), target_frames=96, shots=shots)
    checks = check_seams(plan, {"s01": clips["a"], "s02": clips["b"], "s03": clips["b"], "s04": clips["bars"]})
    assert [(c.name, c.passed) for c in checks] == [("seam s01→s02", True), ("seam s03→s04", False)]


def test_missing_clip_raises(tmp_path, clips):
    with pytest.raises(InputFileError, match="gone.mp4"):
        seam_check(tmp_path / "gone.mp4", clips["a"])


def test_explicit_frames_compare_the_frames_asked_for(clips):
    assert seam_check(clips["a"], clips["a"], a_frame=10, b_frame=10).value["score"] == 0.0
    assert seam_check(clips["a"], clips["a"]).value["score"] > 0.0  # frame 23 against frame 0


def test_check_seams_as_cut_joins_the_trimmed_frames(clips):
    shots = [Shot(id="s01", beat="walk", frames=12, start_frame=0, in_frame=2),
             Shot(id="s02", beat="walk on", frames=12, start_frame=12, continues=True, in_frame=3)]
    plan = Plan(brief=Brief(request="walk"), target_frames=24, shots=shots)
    [check] = check_seams(plan, {"s01": clips["a"], "s02": clips["b"]}, as_cut=True)
    assert "frame 13 of a.mp4 vs frame 3 of b.mp4" in check.detail
