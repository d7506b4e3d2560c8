"""Technical checks: each failure mode made on purpose with ffmpeg and caught; good files pass."""

from __future__ import annotations

import os
import shutil
from fractions import Fraction
from pathlib import Path

import pytest

from reelwright.critique.technical import ClipExpectation, TechnicalCritic, analyse, check_clip, check_final
from reelwright.media import VideoSpec, concat, conform
from reelwright.media.ffmpeg import run_ffmpeg

SPEC = VideoSpec(width=320, height=180, fps=24)


def _expect(frames: int = 48, **kw) -> ClipExpectation:
    return ClipExpectation.from_spec(SPEC, frames, **kw)


def _failed(verdict) -> set[str]:
    return {c.name for c in verdict.checks if not c.passed}


def _lavfi_clip(path: Path, graph: str, *, audio: bool = True) -> Path:
    """A clip from a lavfi video graph (24 fps, 320x180), with a tone unless audio=False."""
    args = ["-f", "lavfi", "-i", graph]
    if audio:
        args += ["-f", "lavfi", "-i", "sine=sample_rate=48000", "-shortest", "-c:a", "aac", "-ac", "2"]
    run_ffmpeg([*args, "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", str(path)])
    return path


@pytest.fixture(scope="module")
def good(tmp_path_factory) -> Path:
    from .conftest import make_test_clip

    folder = tmp_path_factory.mktemp("checks")
    return conform(make_test_clip(folder / "src.mp4", seconds=2), folder / "good.mp4", SPEC)


@pytest.fixture(scope="module")
def final(tmp_path_factory, good) -> Path:
    return concat([good, good], tmp_path_factory.mktemp("final") / "final.mp4", SPEC)


def test_a_good_clip_passes(good):
    verdict = check_clip(good, _expect(freeze_max_s=0.5))
    assert verdict.passed, verdict.reasons
    assert verdict.critic == "technical" and verdict.scores == {"black_s": 0.0, "freeze_s": 0.0}


def test_black_stretch_is_caught(tmp_path):
    clip = _lavfi_clip(tmp_path / "black.mp4", "testsrc2=size=320x180:rate=24:d=1[a];color=black:size=320x180:rate=24:d=1.5[b];"
                       "[a][b]concat=n=2:v=1")
    verdict = check_clip(clip, _expect(60, black_max_s=1.0))
    assert _failed(verdict) == {"black"}
    assert any("black from 1.00s" in r for r in verdict.reasons)
    assert verdict.scores["black_s"] == pytest.approx(1.5, abs=0.05)


def test_short_black_is_allowed(tmp_path):
    clip = _lavfi_clip(tmp_path / "blink.mp4", "testsrc2=size=320x180:rate=24:d=1.5[a];color=black:size=320x180:rate=24:d=0.5[b];"
                       "[a][b]concat=n=2:v=1")
    assert check_clip(clip, _expect(48, black_max_s=1.0)).passed


def test_frozen_stretch_is_caught_when_limited(tmp_path):
    clip = _lavfi_clip(tmp_path / "frozen.mp4", "testsrc2=size=320x180:rate=24:d=2,trim=end_frame=12,"
                       "tpad=stop_mode=clone:stop=36")
    verdict = check_clip(clip, _expect(48, freeze_max_s=1.0))
    assert _failed(verdict) == {"frozen"}
    assert verdict.scores["freeze_s"] > 1.0


def test_frozen_stretch_is_allowed_by_default(tmp_path):
    clip = _lavfi_clip(tmp_path / "still.mp4", "testsrc2=size=320x180:rate=24:d=2,trim=end_frame=12,"
                       "tpad=stop_mode=clone:stop=36")
    assert check_clip(clip, _expect(48)).passed


def test_wrong_length_is_caught_but_one_frame_is_tolerated(good):
    assert _failed(check_clip(good, _expect(50))) == {"duration"}
    assert check_clip(good, _expect(49)).passed


def test_missing_audio_is_caught(tmp_path):
    clip = _lavfi_clip(tmp_path / "mute.mp4", "testsrc2=size=320x180:rate=24:d=2", audio=False)
    verdict = check_clip(clip, _expect(48))
    assert _failed(verdict) == {"audio"}
    assert check_clip(clip, _expect(48, need_audio=False)).passed


def test_wrong_size_rate_and_codec_are_caught(tmp_path):
    clip = tmp_path / "other.mp4"
    run_ffmpeg(["-f", "lavfi", "-i", "testsrc2=size=256x144:rate=25:d=1.92", "-f", "lavfi", "-i", "sine=d=1.92",
                "-c:v", "mpeg4", "-c:a", "aac", str(clip)])
    assert _failed(check_clip(clip, _expect(48))) == {"resolution", "fps", "codec"}


def test_unreadable_clip_fails_without_raising(tmp_path):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"garbage" * 100)
    verdict = check_clip(bad, _expect())
    assert not verdict.passed and _failed(verdict) == {"readable"}
    assert _failed(check_clip(tmp_path / "absent.mp4", _expect())) == {"readable"}


def test_a_good_final_passes(final):
    verdict = check_final(final, 96, 24)
    assert verdict.passed, verdict.reasons


def test_final_of_the_wrong_length_fails(final):
    assert {"duration", "container_duration"} <= _failed(check_final(final, 100, 24))


def test_truncated_final_fails_decoding(final, tmp_path):
    cut = tmp_path / "cut.mp4"
    shutil.copyfile(final, cut)
    os.truncate(cut, cut.stat().st_size * 6 // 10)
    assert "decode" in _failed(check_final(cut, 96, 24))


def test_corrupted_final_fails_decoding(final, tmp_path):
    hurt = tmp_path / "hurt.mp4"
    shutil.copyfile(final, hurt)
    with open(hurt, "r+b") as f:
        f.seek(hurt.stat().st_size // 2)
        f.write(bytes(range(256)) * 16)
    assert "decode" in _failed(check_final(hurt, 96, 24))


def test_final_without_faststart_fails(tmp_path, final):
    slow = tmp_path / "slow.mp4"
    run_ffmpeg(["-i", str(final), "-c", "copy", str(slow)])  # ffmpeg's default puts moov last
    assert _failed(check_final(slow, 96, 24)) == {"faststart"}


def test_analysis_is_one_pass_reporting_both_detectors(tmp_path):
    clip = _lavfi_clip(tmp_path / "both.mp4", "color=black:size=320x180:rate=24:d=1.5", audio=False)
    found = analyse(clip, black_min_s=1.0, freeze_min_s=1.0, video_end=1.5)
    assert len(found.black) == 1 and len(found.frozen) == 1 and not found.errors
    assert found.frozen[0].end == pytest.approx(1.5)


def test_technical_critic_judges_clips_and_finals(good, final):
    critic = TechnicalCritic()
    assert critic.name == "technical"
    assert critic.judge_clip(good, _expect(), context={"prompt": "x"}).passed
    assert critic.judge_final(final, 96, Fraction(24)).passed
