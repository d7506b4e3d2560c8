"""The command line as a person uses it: one clear line and exit code 2 for every bad input,
nothing half-written; plan, generators and inspect print what they promise."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import make_test_clip

RW = [sys.executable, "-m", "reelwright.cli"]


def rw(*args, env=None, cwd=None):
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([*RW, *args], capture_output=True, text=True, env=full_env, cwd=cwd, timeout=300,
                          stdin=subprocess.DEVNULL)


def assert_clean_user_error(proc, *needles):
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr
    lines = [ln for ln in proc.stderr.strip().splitlines() if ln.strip()]
    assert len(lines) == 1, proc.stderr
    for needle in needles:
        assert needle.lower() in lines[0].lower(), lines[0]


@pytest.fixture
def not_an_image(tmp_path):
    p = tmp_path / "notes.jpg"
    p.write_text("this is not an image")
    return p


@pytest.mark.parametrize("args, needle", [
    (["make", ""], "empty"),
    (["make", "   "], "empty"),
    (["make", "a dog runs", "--duration", "0"], "positive"),
    (["make", "a dog runs", "--duration", "-5"], "positive"),
    (["make", "a dog runs", "--duration", "2 hours"], "allow-long"),
    (["make", "a dog runs", "--duration", "soon"], "duration"),
    (["make", "a dog runs", "--mode", "musical"], "unknown mode"),
    (["make", "a dog runs", "--aspect", "5:7"], "unknown aspect"),
    (["make", "a dog runs", "--generator", "nope"], "unknown generator"),
    (["make", "a dog runs", "--ref", "Rex=/nonexistent/dog.png"], "not found"),
    (["make", "a dog runs", "--resolution", "999p"], "resolution"),
    (["make", "a dog runs", "--fps", "0"], "fps"),
    (["make", "a dog runs", "--concurrency", "0"], "concurrency"),
    (["plan", "a dog runs", "--duration", "0"], "positive"),
    (["resume", "no-such-run"], "no run"),
    (["inspect", "/nonexistent/video.mp4"], "no such file"),
])
def test_bad_input_is_one_clear_line_and_exit_2(tmp_path, args, needle):
    proc = rw(*args, "--runs-dir", str(tmp_path / "runs")) if args[0] in ("make", "resume") else rw(*args)
    assert_clean_user_error(proc, needle)
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_non_image_reference_is_rejected(tmp_path, not_an_image):
    proc = rw("make", "a dog runs", "--ref", f"Rex={not_an_image}", "--runs-dir", str(tmp_path / "runs"))
    assert_clean_user_error(proc, "not a readable image")


def test_unwritable_output_is_rejected_before_any_work(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    target = locked / "sub"
    target.write_text("a file where a folder should be")
    proc = rw("make", "a dog runs", "-o", str(target / "v.mp4"), "--runs-dir", str(tmp_path / "runs"))
    assert_clean_user_error(proc, "cannot write output")
    proc = rw("make", "a dog runs", "-o", str(tmp_path), "--runs-dir", str(tmp_path / "runs"))
    assert_clean_user_error(proc, "folder")


def test_missing_ffmpeg_names_the_install_command(tmp_path):
    proc = rw("make", "a dog runs", "-o", str(tmp_path / "v.mp4"), "--runs-dir", str(tmp_path / "runs"),
              env={"REELWRIGHT_FFMPEG": str(tmp_path / "no-ffmpeg")})
    assert_clean_user_error(proc, "ffmpeg", "apt-get install")
    assert not (tmp_path / "v.mp4").exists()


def test_plan_prints_every_shot_total_and_cost():
    proc = rw("plan", "a 30 second video of a fox: hunting, then sleeping")
    assert proc.returncode == 0, proc.stderr
    assert "total 30.000 s" in proc.stdout
    assert "estimated cost $" in proc.stdout
    assert "hunting" in proc.stdout and "sleeping" in proc.stdout


def test_plan_json_round_trips_into_make(tmp_path):
    proc = rw("plan", "a 6 second video of a fox hunting", "--json", "--resolution", "360p")
    assert proc.returncode == 0, proc.stderr
    plan = json.loads(proc.stdout)
    plan["shots"][0]["beat"] = "EDITED BEAT"
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(plan))
    out = tmp_path / "fox.mp4"
    proc = rw("make", "--plan", str(path), "-o", str(out), "--runs-dir", str(tmp_path / "runs"))
    assert proc.returncode == 0, proc.stderr
    run = next((tmp_path / "runs").iterdir())
    saved = json.loads((run / "plan.json").read_text())
    assert saved["shots"][0]["beat"] == "EDITED BEAT"
    from reelwright.media import probe

    assert probe(out).frames == 144


def test_bad_plan_file_is_one_clear_line(tmp_path):
    bad = tmp_path / "plan.json"
    bad.write_text("{not json")
    assert_clean_user_error(rw("make", "--plan", str(bad), "--runs-dir", str(tmp_path / "r")), "not valid json")


def test_generators_lists_the_animatic_default():
    proc = rw("generators")
    assert proc.returncode == 0, proc.stderr
    assert "animatic" in proc.stdout


def test_inspect_reports_probe_and_checks(tmp_path):
    clip = make_test_clip(tmp_path / "c.mp4", seconds=2)
    proc = rw("inspect", str(clip), "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["probe"]["frames"] == 48
    assert data["probe"]["vcodec"] == "h264"


def test_make_prints_steps_and_writes_the_video(tmp_path):
    out = tmp_path / "clip.mp4"
    proc = rw("make", "a 5 second video of a paper boat drifting", "-o", str(out), "--resolution", "360p",
              "--runs-dir", str(tmp_path / "runs"))
    assert proc.returncode == 0, proc.stderr
    for step in ("Drafting prompts", "Generating", "Evaluated", "Stitched", "Verified", "Delivered"):
        assert step in proc.stderr, proc.stderr
    assert out.is_file()
    assert "5.000 s" in proc.stdout
