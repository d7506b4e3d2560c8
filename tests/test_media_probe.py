"""probe(): exact facts about real files made with ffmpeg."""

from __future__ import annotations

from fractions import Fraction

import pytest

from .conftest import make_test_clip
from reelwright.errors import InputFileError
from reelwright.media import VideoSpec, conform, is_faststart, probe
from reelwright.media.ffmpeg import run_ffmpeg


def test_probe_reports_exact_frames_rate_size_and_codecs(make_clip):
    info = probe(make_clip(seconds=2, fps="24"))
    assert info.frames == 48
    assert info.fps == Fraction(24)
    assert info.video_duration == Fraction(2)
    assert (info.width, info.height) == (320, 180)
    assert (info.vcodec, info.acodec, info.pix_fmt) == ("h264", "aac", "yuv420p")
    assert (info.audio_channels, info.sample_rate, info.has_audio) == (2, 48000, True)
    assert abs(info.duration - 2) < Fraction(1, 24)
    assert abs(info.audio_duration - 2) < Fraction(1, 24)
    assert info.size_bytes > 0 and "mp4" in info.format_name


def test_probe_keeps_ntsc_rate_exact(make_clip):
    info = probe(make_clip(seconds=1, fps="30000/1001", audio=False))
    assert info.fps == Fraction(30000, 1001)
    assert info.frames == 30
    assert info.video_duration == Fraction(30 * 1001, 30000)


def test_probe_of_silent_clip_has_no_audio(make_clip):
    info = probe(make_clip(seconds=1, audio=False))
    assert not info.has_audio
    assert info.acodec is None and info.audio_duration is None


def test_probe_counts_frames_when_the_container_does_not_store_a_count(tmp_path):
    clip = make_test_clip(tmp_path / "clip.mkv", seconds=1.5, fps="24")
    assert probe(clip).frames == 36


def test_ffprobe_and_pyav_agree(make_clip, monkeypatch):
    clip = make_clip(seconds=1, fps="25")
    by_pyav = probe(clip)
    monkeypatch.setenv("REELWRIGHT_PROBE", "ffprobe")
    by_ffprobe = probe(clip)
    for field in ("frames", "fps", "width", "height", "vcodec", "acodec", "audio_channels", "sample_rate",
                  "audio_duration", "video_duration", "pix_fmt", "faststart", "video_config"):
        assert getattr(by_pyav, field) == getattr(by_ffprobe, field), field
    assert abs(by_pyav.duration - by_ffprobe.duration) <= Fraction(1, 1000)


def test_faststart_is_read_from_box_order(make_clip, tmp_path):
    plain = make_clip(seconds=1)  # ffmpeg's default mp4 puts moov last
    fast = conform(plain, tmp_path / "fast.mp4", VideoSpec(width=320, height=180, fps=24))
    assert not probe(plain).faststart
    assert probe(fast).faststart and is_faststart(fast)


def test_missing_file_is_a_one_line_input_error(tmp_path):
    with pytest.raises(InputFileError) as err:
        probe(tmp_path / "absent.mp4")
    assert "absent.mp4" in str(err.value) and "\n" not in str(err.value)


def test_text_file_is_not_media(tmp_path):
    path = tmp_path / "notes.mp4"
    path.write_text("not a video")
    with pytest.raises(InputFileError, match="notes.mp4"):
        probe(path)


def test_still_image_is_not_a_video(tmp_path):
    png = tmp_path / "still.png"
    run_ffmpeg(["-f", "lavfi", "-i", "color=red:size=64x64:d=0.1", "-frames:v", "1", str(png)])
    with pytest.raises(InputFileError, match="not a video"):
        probe(png)
