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
    plan_path = write_plan(tmp_path, plan)
    before = files_under(tmp_path)
    proc = rw("make", "--plan", str(plan_path), "-o", str(work / "out.mp4"), "--runs-dir", str(work / "runs"))
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


# 9. damaged run files: one line, exit 2 ------------------------------------------------------------

@pytest.fixture(scope="module")
def finished_run(tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("finished-run")
    proc = rw("make", "a dog walks", "-d", "2", "--resolution", "360p", "-o", str(base / "v.mp4"),
              "--runs-dir", str(base / "runs"))
    assert proc.returncode == 0, proc.stderr
    (root,) = (base / "runs").iterdir()
    return root


@pytest.mark.parametrize("name, damage", [
    ("state.json", lambda t: t[: len(t) // 2]),
    ("state.json", lambda t: "[1, 2, 3]"),
    ("state.json", lambda t: json.dumps({**json.loads(t), "accepted": "lots"})),
    ("brief.json", lambda t: t[:10]),
    ("brief.json", lambda t: json.dumps({**json.loads(t), "fps": "fast"})),
    ("plan.json", lambda t: t[: len(t) // 3]),
    ("report.json", lambda t: "\x00\x01garbage"),
])
@pytest.mark.parametrize("command", ["resume", "edit"])
def test_damaged_run_files_are_one_line(tmp_path, finished_run, name, damage, command):
    run = tmp_path / "runs" / finished_run.name
    shutil.copytree(finished_run, run)
    target = run / name
    target.write_text(damage(target.read_text()))
    args = ["resume", str(run)] if command == "resume" else ["edit", str(run), "add 'HI' at 0:00 for 1 seconds"]
    proc = rw(*args, "--runs-dir", str(tmp_path / "runs"))
    if name == "report.json":  # our own output, rebuilt on every write: replaced, not fatal
        assert proc.returncode == 0, proc.stderr
        assert json.loads(target.read_text())["status"] == "done"
        return
    assert_clean_user_error(proc, name)


# 7. concurrent deliveries to one path never mix bytes ---------------------------------------------

def test_concurrent_deliveries_to_one_path_never_mix(tmp_path):
    sources = []
    for n in range(6):
        src = tmp_path / f"src{n}.bin"
        src.write_bytes(bytes([n]) * (4 * 1024 * 1024))
        sources.append(src)
    dst = tmp_path / "out" / "video.mp4"
    code = ("import sys; from pathlib import Path; from reelwright.director.verify import deliver_copy\n"
            "for _ in range(3): deliver_copy(Path(sys.argv[1]), Path(sys.argv[2]))")
    procs = [subprocess.Popen([sys.executable, "-c", code, str(s), str(dst)]) for s in sources]
    assert all(p.wait(timeout=120) == 0 for p in procs)
    data = dst.read_bytes()
    assert data in {s.read_bytes() for s in sources}  # one whole writer's bytes, not a mix
    assert [p.name for p in dst.parent.iterdir()] == ["video.mp4"]  # no temp left


def test_every_writer_gets_its_own_temp_name(tmp_path):
    from reelwright.media.util import atomic_output

    with atomic_output(tmp_path / "a.mp4") as t1, atomic_output(tmp_path / "a.mp4") as t2:
        assert t1 != t2 and t1.parent == t2.parent == tmp_path
        t1.write_bytes(b"1")
        t2.write_bytes(b"2")
    assert (tmp_path / "a.mp4").read_bytes() in (b"1", b"2")


# 10. silent damage ---------------------------------------------------------------------------------

def _damaged_clip(tmp_path: Path) -> Path:
    clip = make_test_clip(tmp_path / "whole.mp4", seconds=2, audio=False)
    data = bytearray(clip.read_bytes())
    mid = len(data) // 2
    data[mid: mid + 4000] = bytes(4000)  # zero a run of bytes inside the video packets
    bad = tmp_path / "damaged.mp4"
    bad.write_bytes(bytes(data))
    return bad


def test_editing_a_file_whose_frames_do_not_all_decode_warns(tmp_path):
    from reelwright.critique.technical import decode_errors

    bad = _damaged_clip(tmp_path)
    assert decode_errors(bad)  # the fixture really is damaged
    proc = rw("edit", str(bad), "add 'HI' at 0:00 for 1 seconds", "-o", str(tmp_path / "e.mp4"))
    assert "do not decode" in proc.stderr, proc.stderr


def test_extend_keeps_a_rotated_video_upright(tmp_path):
    from reelwright.editing.extend import rotation_of
    from reelwright.media.ffmpeg import run_ffmpeg

    plain = make_test_clip(tmp_path / "plain.mp4", seconds=2, width=320, height=180)
    rotated = tmp_path / "rotated.mp4"
    run_ffmpeg(["-display_rotation", "90", "-i", str(plain), "-c", "copy", str(rotated)]) if _ffmpeg_has_display_rotation() \
        else run_ffmpeg(["-i", str(plain), "-c", "copy", "-metadata:s:v:0", "rotate=90", str(rotated)])
    assert rotation_of(rotated) % 180 == 90
    out = tmp_path / "long.mp4"
    proc = rw("extend", str(rotated), "--to", "3", "-o", str(out), "--runs-dir", str(tmp_path / "runs"))
    assert proc.returncode == 0, proc.stderr
    info = probe_info(out)
    shown = (info.height, info.width) if rotation_of(out) % 180 == 90 else (info.width, info.height)
    assert shown == (180, 320)  # portrait, as the original plays — not sideways


def _ffmpeg_has_display_rotation() -> bool:
    from reelwright.media.ffmpeg import ffmpeg_exe

    out = subprocess.run([ffmpeg_exe(), "-hide_banner", "-h", "full"], capture_output=True, text=True).stdout
    return "display_rotation" in out


def probe_info(path: Path):
    from reelwright.media import probe

    return probe(path)
