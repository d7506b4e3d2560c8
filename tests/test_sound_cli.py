"""Sound through the real command line: every bad sound input is one line and exit code 2 before any
clip is made, and nothing is written where the video would go; `make` delivers captions beside the file
and `inspect` prints the sound's figures."""

from __future__ import annotations

import json

import pytest

from tests.sound_helpers import ebur128
from tests.test_cli import rw


def assert_clean_user_error(proc, needle):
    """Exit 2, no traceback, one error line naming the problem (planning's progress lines may come first
    when the problem is only known from the plan, e.g. narration too long for the planned shots)."""
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr
    errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1 and needle.lower() in errors[0].lower(), proc.stderr


@pytest.fixture
def junk(tmp_path):
    p = tmp_path / "bed.mp3"
    p.write_text("not audio at all")
    return p


@pytest.mark.parametrize("extra, needle", [
    (["--tts", "nope"], "unknown TTS backend 'nope'"),
    (["--voice", "auto", "--tts", "openai:gpt-4o-mini-tts"], "OPENAI_API_KEY"),
    (["--voice", "auto", "--tts", "elevenlabs:abc"], "ELEVENLABS_API_KEY"),
    (["--mode", "ugc-product", "--tts", "elevenlabs:abc"], "ELEVENLABS_API_KEY"),  # the mode's own voice
    (["--voice", " ".join(["word"] * 60)], "60 words"),
    (["--loudness", "deafening"], "unknown loudness"),
    (["--subtitles", "sometimes"], "--subtitles='sometimes'"),
    (["--timing", "music"], "unknown --timing"),
    (["--sfx", "/nonexistent/folder"], "--sfx folder not found"),
])
def test_bad_sound_options_are_one_line_and_exit_2(tmp_path, extra, needle):
    out = tmp_path / "v.mp4"
    proc = rw("make", "a 10 second video of a lake", "--resolution", "360p", "-o", str(out), *extra,
              "--runs-dir", str(tmp_path / "runs"))
    assert_clean_user_error(proc, needle)
    assert not out.exists()


def test_unreadable_music_and_a_late_effect_are_refused_before_any_clip(tmp_path, junk):
    out = tmp_path / "v.mp4"
    proc = rw("make", "a 10 second video of a lake", "--music", str(junk), "-o", str(out), "--runs-dir", str(tmp_path / "r"))
    assert_clean_user_error(proc, "music file is not readable audio")
    proc = rw("make", "a 10 second video of a corridor; a door slams at 0:14", "-o", str(out),
              "--runs-dir", str(tmp_path / "r"))
    assert_clean_user_error(proc, "asked at 14 s but the video is 10 s long")
    assert not out.exists()
    assert not list((tmp_path / "r").glob("*/clips/*.mp4"))  # no clip was made


def test_make_with_a_voice_delivers_captions_and_inspect_reads_the_sound(tmp_path):
    out = tmp_path / "lake.mp4"
    proc = rw("make", "a 8 second video of a lake at dawn", "--voice", "The lake is still. Then the sun comes up.",
              "--resolution", "360p", "-o", str(out), "--runs-dir", str(tmp_path / "runs"))
    assert proc.returncode == 0, proc.stderr
    assert out.with_suffix(".srt").is_file() and out.with_suffix(".vtt").is_file()
    measured = ebur128(out)
    assert abs(measured["I"] + 14) <= 1 and measured["TP"] <= -1
    report = json.loads(next((tmp_path / "runs").glob("*/report.json")).read_text())
    assert report["audio"]["captions"] >= 2 and report["audio"]["narration"]["coverage"] > 0
    assert [s["step"] for s in report["steps"]].count("sound") == 1
    shown = rw("inspect", str(out), "--json")
    assert shown.returncode == 0, shown.stderr
    audio = json.loads(shown.stdout)["audio"]
    assert abs(audio["integrated_lufs"] - measured["I"]) <= 0.2 and audio["captions"] == report["audio"]["captions"]
    text = rw("inspect", str(out)).stdout
    assert "LUFS integrated" in text and "captions:" in text
