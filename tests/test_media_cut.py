"""concat(): stream copy when clips match, exact total length, per-clip audio alignment, transitions."""

from __future__ import annotations

import sys
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from reelwright.errors import ToolArgumentError
from reelwright.media import VideoSpec, concat, conform, frames_by_index, plan_concat, probe, transition_total_frames
from reelwright.media.ffmpeg import run_ffmpeg

SPEC = VideoSpec(width=320, height=180, fps=24)
ODD = [37, 41, 23, 55, 19]


def _video_packets(path: Path) -> list[bytes]:
    with av.open(str(path)) as c:
        return [bytes(p) for p in c.demux(c.streams.video[0]) if p.size]


def _samples(path: Path) -> np.ndarray:
    """Mono float samples of the whole (short) track."""
    out = []
    with av.open(str(path)) as c:
        for frame in c.decode(audio=0):
            out.append(frame.to_ndarray().mean(axis=0))
    return np.concatenate(out)


def _color_clip(path: Path, color: str, frames: int, *, tone: bool) -> Path:
    audio = "sine=frequency=660:sample_rate=48000" if tone else "anullsrc=r=48000:cl=stereo"
    run_ffmpeg(["-f", "lavfi", "-i", f"color={color}:size=320x180:rate=24,trim=end_frame={frames}",
                "-f", "lavfi", "-i", f"{audio},atrim=end_sample={frames * 2000}", "-c:v", "libx264",
                "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-ac", "2", str(path)])
    return path


@pytest.fixture(scope="module")
def odd_clips(tmp_path_factory) -> list[Path]:
    """Five conformed clips of odd lengths, cut from one source at different points."""
    from .conftest import make_test_clip

    folder = tmp_path_factory.mktemp("odd")
    src = make_test_clip(folder / "src.mp4", seconds=3)
    return [conform(src, folder / f"clip{n}.mp4", SPEC, frames=f, start_frame=n * 3) for n, f in enumerate(ODD)]


def test_matching_clips_are_joined_by_stream_copy(odd_clips, tmp_path):
    plan = plan_concat(odd_clips, SPEC)
    assert plan.method == "copy" and plan.conform == []
    out = concat(odd_clips, tmp_path / "cut.mp4", SPEC)
    copied = [pkt for clip in odd_clips for pkt in _video_packets(clip)]
    assert _video_packets(out) == copied  # every H.264 packet byte for byte: nothing re-encoded


def test_cut_lasts_exactly_the_sum_of_the_clips(odd_clips, tmp_path):
    info = probe(concat(odd_clips, tmp_path / "cut.mp4", SPEC))
    total = Fraction(sum(ODD), 24)
    assert info.frames == sum(ODD) == plan_concat(odd_clips, SPEC).total_frames
    assert info.video_duration == total
    assert abs(info.duration - total) <= Fraction(1, 24)
    assert abs(info.audio_duration - total) <= Fraction(1, 24)
    assert info.video_start == 0
    assert info.faststart and (info.vcodec, info.acodec) == ("h264", "aac")


def test_each_clip_keeps_its_sound_in_place(tmp_path):
    """Loud, silent, loud: the silence must sit exactly under the middle clip, with no drift at the joins."""
    frames = [37, 41, 23]
    clips = [conform(_color_clip(tmp_path / f"raw{n}.mp4", "gray", f, tone=n != 1), tmp_path / f"c{n}.mp4", SPEC)
             for n, f in enumerate(frames)]
    samples = _samples(concat(clips, tmp_path / "cut.mp4", SPEC))
    loud = np.abs(samples) > 0.05
    quiet_start, quiet_end = 37 * 2000, 78 * 2000
    assert not loud[quiet_start + 2000:quiet_end - 2000].any()
    assert loud[quiet_start - 3000:quiet_start - 2000].any() and loud[quiet_end + 2000:quiet_end + 3000].any()
    assert abs(len(samples) - 101 * 2000) <= 2000


def test_only_mismatched_clips_are_conformed(odd_clips, make_clip, tmp_path):
    odd = make_clip(seconds=2, width=640, height=480, fps="30", audio=False)
    clips = [odd_clips[0], odd, odd_clips[2]]
    plan = plan_concat(clips, SPEC)
    assert plan.method == "copy" and plan.conform == [1]
    out = concat(clips, tmp_path / "cut.mp4", SPEC)
    info = probe(out)
    assert info.frames == 37 + 48 + 23
    assert (info.width, info.height) == (320, 180)
    assert _video_packets(out)[:37] == _video_packets(odd_clips[0])


def test_clips_with_other_codec_parameters_are_reencoded(odd_clips, make_clip):
    foreign = make_clip(seconds=1, fps="24")  # right size and rate, but x264 ultrafast: another SPS/PPS
    assert SPEC.matches(probe(foreign))
    assert plan_concat([odd_clips[0], foreign], SPEC).conform == [1]


def test_identical_foreign_clips_are_copied_as_they_are(make_clip):
    a, b = make_clip(seconds=1, fps="24"), make_clip(seconds=1.5, fps="24")
    plan = plan_concat([a, b], SPEC)
    assert plan.method == "copy" and plan.conform == [] and plan.total_frames == 60


def test_transitions_overlap_and_shorten_the_cut(tmp_path):
    clips = [_color_clip(tmp_path / f"{c}.mp4", c, 30, tone=True) for c in ("red", "blue", "red")]
    joins = [("dissolve", 12), ("cut", 0)]
    assert transition_total_frames([30, 30, 30], joins) == 78
    out = concat(clips, tmp_path / "cut.mp4", SPEC, transitions=joins)
    info = probe(out)
    assert info.frames == 78
    assert abs(info.audio_duration - Fraction(78, 24)) <= Fraction(1, 24)
    before, middle, after = frames_by_index(out, [10, 24, 40], as_array=True)
    assert before[..., 0].mean() > 180 and before[..., 2].mean() < 60  # red
    assert middle[..., 0].mean() > 60 and middle[..., 2].mean() > 60  # red and blue mixed
    assert after[..., 2].mean() > 180 and after[..., 0].mean() < 60  # blue


def test_many_clips_with_transitions_are_joined_in_stages(tmp_path, monkeypatch):
    monkeypatch.setattr(sys.modules["reelwright.media.cut"], "_MAX_GRAPH_INPUTS", 2)
    clips = [_color_clip(tmp_path / f"{n}.mp4", c, 20, tone=True) for n, c in enumerate(("red", "blue", "green"))]
    out = concat(clips, tmp_path / "cut.mp4", SPEC, transitions=[("fade", 4), ("wipeleft", 6)])
    assert probe(out).frames == 50


def test_a_transition_count_that_does_not_fit_is_refused(odd_clips, tmp_path):
    with pytest.raises(ToolArgumentError, match="need 4 transitions"):
        concat(odd_clips, tmp_path / "cut.mp4", SPEC, transitions=[("fade", 6)])
    with pytest.raises(ToolArgumentError, match="unknown transition"):
        plan_concat(odd_clips[:2], SPEC, transitions=[("explode", 6)])
    with pytest.raises(ToolArgumentError, match="overlaps 37 frames"):
        plan_concat(odd_clips[:2], SPEC, transitions=[("fade", 37)])


def test_progress_reaches_one(odd_clips, tmp_path):
    seen = []
    concat(odd_clips[:2], tmp_path / "cut.mp4", SPEC, progress=seen.append)
    assert seen and seen[-1] == 1.0 and seen == sorted(seen)


def test_a_clip_without_sound_is_copied_and_gets_silence(odd_clips, tmp_path):
    mute = tmp_path / "mute.mp4"
    run_ffmpeg(["-i", str(odd_clips[1]), "-an", "-c", "copy", str(mute)])
    clips = [odd_clips[0], mute]
    assert plan_concat(clips, SPEC).conform == []
    out = concat(clips, tmp_path / "cut.mp4", SPEC)
    info = probe(out)
    assert info.frames == 78 and abs(info.audio_duration - Fraction(78, 24)) <= Fraction(1, 24)
    samples = _samples(out)
    assert not np.abs(samples[38 * 2000:77 * 2000]).any()


def test_a_single_clip_is_copied_whole(odd_clips, tmp_path):
    out = concat(odd_clips[:1], tmp_path / "cut.mp4", SPEC)
    assert _video_packets(out) == _video_packets(odd_clips[0])
    assert probe(out).faststart
