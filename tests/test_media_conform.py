"""conform() and trim(): size, rate, sound and frame-exact length, checked by probing the output."""

from __future__ import annotations

import sys
from fractions import Fraction

import numpy as np
import pytest

from reelwright.errors import FFmpegError, ToolArgumentError
from reelwright.media import VideoSpec, conform, frames_by_index, probe, trim
from reelwright.media.ffmpeg import run_ffmpeg

# the package re-exports the function `conform`, which hides the module of the same name
conform_module = sys.modules["reelwright.media.conform"]

SPEC = VideoSpec(width=320, height=180, fps=24)


def _diff(a, b) -> float:
    return float(np.abs(a.astype(int) - b.astype(int)).mean())


def test_conform_changes_size_and_rate_and_adds_silent_stereo(make_clip, tmp_path):
    src = make_clip(seconds=2, width=640, height=480, fps="30", audio=False)
    info = probe(conform(src, tmp_path / "out.mp4", SPEC))
    assert (info.width, info.height, info.fps, info.sar) == (320, 180, Fraction(24), "1:1")
    assert info.frames == 48
    assert (info.acodec, info.audio_channels, info.sample_rate) == ("aac", 2, 48000)
    assert abs(info.audio_duration - info.video_duration) < Fraction(1, 24)
    assert SPEC.matches(info, audio=True)


def test_conform_resamples_mono_audio_to_stereo_48k(make_clip, tmp_path):
    src = tmp_path / "mono.mp4"
    run_ffmpeg(["-f", "lavfi", "-i", "testsrc2=size=320x180:rate=24:duration=1", "-f", "lavfi", "-i",
                               "sine=sample_rate=44100:duration=1", "-c:v", "libx264", "-preset", "ultrafast",
                               "-c:a", "aac", "-ac", "1", str(src)])
    info = probe(conform(src, tmp_path / "out.mp4", SPEC))
    assert (info.audio_channels, info.sample_rate) == (2, 48000)


def test_fill_crops_and_pad_letterboxes(make_clip, tmp_path):
    src = make_clip(seconds=0.5, width=240, height=180)  # 4:3 into 16:9
    filled = frames_by_index(conform(src, tmp_path / "fill.mp4", SPEC, fit="fill"), [0], as_array=True)[0]
    padded = frames_by_index(conform(src, tmp_path / "pad.mp4", SPEC, fit="pad"), [0], as_array=True)[0]
    assert filled.shape == padded.shape == (180, 320, 3)
    assert padded[:, :30].max() < 30  # black bars left and right
    assert filled[:, :30].mean() > 40  # picture reaches the edge


def test_trim_is_frame_exact_with_audio_of_the_same_length(make_clip, tmp_path):
    src = make_clip(seconds=3, fps="24")
    out = trim(src, tmp_path / "cut.mp4", start_frame=10, frames=37, spec=SPEC)
    info = probe(out)
    assert info.frames == 37
    assert info.video_duration == Fraction(37, 24)
    assert abs(info.audio_duration - Fraction(37, 24)) <= Fraction(1, 24)
    assert abs(info.duration - Fraction(37, 24)) <= Fraction(1, 24)
    first = frames_by_index(out, [0], as_array=True)[0]
    source = frames_by_index(src, [9, 10, 11], as_array=True)
    diffs = [_diff(first, f) for f in source]
    assert diffs.index(min(diffs)) == 1  # output frame 0 is source frame 10


def test_conform_holds_the_last_frame_when_the_source_is_a_little_short(make_clip, tmp_path):
    src = make_clip(seconds=1, fps="24")
    info = probe(conform(src, tmp_path / "long.mp4", SPEC, frames=30))
    assert info.frames == 30
    assert abs(info.audio_duration - Fraction(30, 24)) <= Fraction(1, 24)


def test_start_past_the_end_is_refused(make_clip, tmp_path):
    src = make_clip(seconds=1, fps="24")
    with pytest.raises(ToolArgumentError, match="start_frame 30"):
        conform(src, tmp_path / "x.mp4", SPEC, frames=5, start_frame=30)


def test_output_over_its_own_input_is_refused(make_clip):
    src = make_clip(seconds=0.5)
    with pytest.raises(ToolArgumentError, match="same file"):
        conform(src, src, SPEC)


def test_a_failed_encode_leaves_no_partial_file(make_clip, tmp_path, monkeypatch):
    src = make_clip(seconds=0.5)

    def failing_ffmpeg(args, **kw):
        with open(args[-1], "wb") as half:  # ffmpeg dies after writing part of its output
            half.write(b"\0" * 1000)
        raise FFmpegError(["ffmpeg"], 1, "Conversion failed!")

    monkeypatch.setattr(conform_module, "run_ffmpeg", failing_ffmpeg)
    with pytest.raises(FFmpegError):
        conform(src, tmp_path / "out" / "clip.mp4", SPEC)
    assert list((tmp_path / "out").iterdir()) == []


def test_conformed_clips_share_codec_parameters(make_clip, tmp_path):
    """What lets the cut stream-copy them: one SPS/PPS for every clip of a spec."""
    import av

    a = conform(make_clip(seconds=0.5, width=240, height=180), tmp_path / "a.mp4", SPEC, frames=11)
    b = conform(make_clip(seconds=1, fps="30", audio=False), tmp_path / "b.mp4", SPEC)
    with av.open(str(a)) as ca, av.open(str(b)) as cb:
        assert ca.streams.video[0].codec_context.extradata == cb.streams.video[0].codec_context.extradata
