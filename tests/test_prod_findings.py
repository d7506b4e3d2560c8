"""The ten findings of the production probe (issue 12), each as the behaviour a hostile or unlucky user
would meet: one clear line and exit code 2, nothing written outside the run folder, no money spent twice."""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import make_test_clip
from .test_cli import assert_clean_user_error, rw


@pytest.fixture(scope="module")
def plan_json(tmp_path_factory) -> dict:
    """A tiny 360p plan, as `reelwright plan --json` prints it."""
    home = tmp_path_factory.mktemp("rw-plan-home")
    proc = rw("plan", "a dog walks in a park", "-d", "3", "--resolution", "360p", "--json",
              env={"REELWRIGHT_HOME": str(home)})
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def write_plan(tmp_path: Path, plan: dict, name: str = "plan.json") -> Path:
    p = tmp_path / name
    p.write_text(json.dumps(plan))
    return p


def files_under(root: Path) -> set[Path]:
    return {p for p in root.rglob("*")}


# 1. path traversal through names from files -------------------------------------------------------

@pytest.mark.parametrize("bad_id", ["../../../../escaped", "/tmp/rw-abs-escape", "a/b", "..", ".hidden", "s01\x00"])
def test_plan_shot_ids_cannot_name_paths(tmp_path, plan_json, bad_id):
    plan = json.loads(json.dumps(plan_json))
    plan["shots"][0]["id"] = bad_id
    work = tmp_path / "work"
    work.mkdir()
    before = files_under(tmp_path)
    proc = rw("make", "--plan", str(write_plan(tmp_path, plan)), "-o", str(work / "out.mp4"),
              "--runs-dir", str(work / "runs"))
    assert_clean_user_error(proc, "shot id")
    assert not Path("/tmp/rw-abs-escape-").exists()
    assert files_under(tmp_path) - before <= {work / "runs"}  # nothing made, nothing outside


def test_entity_ids_cannot_name_paths(plan_json):
    from reelwright.errors import BriefError
    from reelwright.plan import Plan

    plan = json.loads(json.dumps(plan_json))
    plan["cast"] = {"entities": [{"id": "../../x", "name": "x", "kind": "character"}]}
    with pytest.raises((BriefError, ValueError), match="id"):
        Plan.model_validate(plan)


# 3. the budget cannot be bypassed ----------------------------------------------------------------

@pytest.mark.parametrize("budget", [math.nan, math.inf, -math.inf, -0.01])
def test_non_finite_or_negative_budget_is_refused_everywhere(budget, plan_json):
    from reelwright.api import make_brief
    from reelwright.errors import BriefError
    from reelwright.plan import Plan

    with pytest.raises(BriefError, match="budget"):
        make_brief("a dog", budget_usd=budget)
    plan = json.loads(json.dumps(plan_json))
    plan["brief"]["budget_usd"] = budget
    with pytest.raises((BriefError, ValueError), match="budget"):
        Plan.model_validate(plan)


@pytest.mark.parametrize("value", ["nan", "inf", "-1"])
def test_budget_flag_refuses_non_finite(tmp_path, value):
    proc = rw("make", "a dog", "-d", "2", "--budget", value, "--runs-dir", str(tmp_path / "runs"),
              "-o", str(tmp_path / "o.mp4"))
    assert_clean_user_error(proc, "budget")
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


# 4. every input file is bounded before it is read ------------------------------------------------

def test_endless_plan_file_is_refused_quickly(tmp_path):
    proc = rw("make", "--plan", "/dev/zero", "--runs-dir", str(tmp_path / "runs"), "-o", str(tmp_path / "o.mp4"))
    assert_clean_user_error(proc, "plan")


def test_fifo_and_huge_plan_files_are_refused(tmp_path):
    fifo = tmp_path / "plan.fifo"
    os.mkfifo(fifo)
    proc = rw("make", "--plan", str(fifo), "--runs-dir", str(tmp_path / "runs"))
    assert_clean_user_error(proc, "plan")
    huge = tmp_path / "huge.json"
    with open(huge, "wb") as fh:
        fh.truncate(200 * 1024 * 1024)  # sparse: costs nothing on disk, 200 MB to a reader
    proc = rw("make", "--plan", str(huge), "--runs-dir", str(tmp_path / "runs"))
    assert_clean_user_error(proc, "too large")


def test_bounded_read_helper_refuses_devices_and_big_files(tmp_path):
    from reelwright.errors import InputFileError
    from reelwright.runs.files import read_bounded

    with pytest.raises(InputFileError, match="not a regular file"):
        read_bounded(Path("/dev/zero"), "plan")
    big = tmp_path / "big.json"
    big.write_bytes(b" " * 2000)
    with pytest.raises(InputFileError, match="too large"):
        read_bounded(big, "plan", max_bytes=1000)
    assert read_bounded(big, "plan", max_bytes=4000) == " " * 2000


# 9. one line instead of a traceback ---------------------------------------------------------------

@pytest.mark.parametrize("args, needle", [
    (["plan", "a dog", "-d", "1e400", "--json"], "duration"),
    (["plan", "a dog", "-d", "4", "--fps", "1e400", "--json"], "fps"),
    (["plan", "a dog", "-d", "4", "--fps", "1/0", "--json"], "fps"),
    (["plan", "a dog", "-d", "nan", "--json"], "duration"),
])
def test_overflowing_numbers_are_one_line(args, needle):
    assert_clean_user_error(rw(*args), needle)


@pytest.mark.parametrize("target", ["nan", "inf", "-inf", "1e400", "-3"])
def test_inspect_non_finite_target_is_one_line(tmp_path, target):
    clip = make_test_clip(tmp_path / "c.mp4", seconds=1)
    assert_clean_user_error(rw("inspect", str(clip), "--target", target), "target")


@pytest.mark.parametrize("change, needle", [
    (lambda p: p.update(fps="0"), "fps"),
    (lambda p: p.update(fps="1/0"), "fps"),
    (lambda p: p["shots"][0].update(fade_in=10_000), "fade"),
    (lambda p: p["shots"][0].update(speed="-1"), "speed"),
    (lambda p: p["shots"][0].update(speed="0"), "speed"),
    (lambda p: p["shots"][0].update(in_frame=100_000), "in_frame"),
    (lambda p: p["shots"][0].update(in_frame=-1), "in_frame"),
    (lambda p: p.update(overlays=[{"text": "x", "start": "1", "duration": "1000"}]), "overlay"),
    (lambda p: p.update(overlays=[{"text": "x", "start": "-1", "duration": "1"}]), "overlay"),
    (lambda p: p.update(width=641), "even"),
])
def test_plan_is_validated_whole_before_anything_is_spent(tmp_path, plan_json, change, needle):
    plan = json.loads(json.dumps(plan_json))
    change(plan)
    proc = rw("make", "--plan", str(write_plan(tmp_path, plan)), "-o", str(tmp_path / "o.mp4"),
              "--runs-dir", str(tmp_path / "runs"))
    assert_clean_user_error(proc, needle)
    assert not list((tmp_path / "runs").rglob("*.mp4")) if (tmp_path / "runs").exists() else True


def _bomb(path: Path) -> Path:
    from PIL import Image

    Image.new("1", (16000, 16000)).save(path)  # 256 Mpx in a few kB
    return path


def _broken(path: Path) -> Path:
    from PIL import Image

    Image.new("RGB", (64, 64), "red").save(path)
    path.write_bytes(path.read_bytes()[:60])
    return path


@pytest.mark.parametrize("maker", [_bomb, _broken])
def test_bad_reference_images_are_one_line(tmp_path, maker):
    ref = maker(tmp_path / "ref.png")
    proc = rw("make", "a dog", "-d", "2", "--ref", f"Rex={ref}", "--runs-dir", str(tmp_path / "runs"),
              "-o", str(tmp_path / "o.mp4"))
    assert_clean_user_error(proc, "ref")


def test_odd_sized_input_to_edit_is_handled(tmp_path):
    clip = make_test_clip(tmp_path / "odd.mp4", seconds=1, width=321, height=181, vcodec="libx264rgb")
    proc = rw("edit", str(clip), "add 'HI' at 0:00 for 0.5 seconds", "-o", str(tmp_path / "e.mp4"))
    assert "Traceback" not in proc.stderr
    assert proc.returncode in (0, 2), proc.stderr
    if proc.returncode == 2:
        assert_clean_user_error(proc)
