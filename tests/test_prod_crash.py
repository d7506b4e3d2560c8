"""kill -9 at every step of make, edit, extend and resume (REELWRIGHT_CRASH_AT makes the process SIGKILL
itself when that event is emitted): `resume` then finishes with no accepted clip regenerated and the final
at the asked path with the exact frame count; an interrupted edit re-run applies once; nothing is left
behind (no orphaned ffmpeg, no stale temp files)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from reelwright.media import probe
from reelwright.plan import Plan
from reelwright.runs.store import RunDir

from .conftest import make_test_clip

RW = [sys.executable, "-m", "reelwright.cli"]


def rw(*args, crash: str | None = None, cwd: Path | None = None):
    env = {k: v for k, v in os.environ.items() if k != "REELWRIGHT_CRASH_AT"}
    if crash:
        env["REELWRIGHT_CRASH_AT"] = crash
    return subprocess.run([*RW, *args], capture_output=True, text=True, env=env, timeout=300,
                          stdin=subprocess.DEVNULL, cwd=cwd)


def only_run(runs: Path) -> RunDir:
    (root,) = [p for p in runs.iterdir() if p.is_dir()]
    return RunDir(root)


def accepted_files(run: RunDir) -> dict[str, tuple[int, int]]:
    """Accepted clip -> (inode, mtime_ns): a regenerated clip would be a new file."""
    out = {}
    for rec in run.load_state().accepted.values():
        path = run.root / rec.path
        if path.is_file():
            st = path.stat()
            out[rec.path] = (st.st_ino, st.st_mtime_ns)
    return out


def generated_after(run: RunDir, lines_before: int) -> list[str]:
    """Shots a take was started for after the first `lines_before` trace lines."""
    lines = run.trace_path.read_text().splitlines()[lines_before:]
    events = [json.loads(ln) for ln in lines]
    return [e["shot"] for e in events if e["step"] in ("generate", "regenerate") and e["status"] == "start"
            and e.get("shot")]


def trace_len(run: RunDir) -> int:
    return len(run.trace_path.read_text().splitlines()) if run.trace_path.is_file() else 0


def assert_no_leftovers(run: RunDir) -> None:
    stale = [p for p in run.root.rglob(".*") if p.name.endswith((".part", ".mp4")) or ".part." in p.name]
    assert stale == [], stale
    assert not (run.root / "final.next.mp4").exists()
    ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    assert str(run.root) not in ps, "a child process of the killed run is still running"


def resume_and_check(run: RunDir, runs: Path, out: Path, frames: int) -> None:
    before_files, before_lines = accepted_files(run), trace_len(run)
    accepted_shots = {rec.shot_id for rec in run.load_state().accepted.values()}
    proc = rw("resume", run.id, "--runs-dir", str(runs))  # no -o: the run remembers where to deliver
    assert proc.returncode == 0, proc.stderr
    assert out.is_file()
    assert probe(out).frames == frames
    assert not set(generated_after(run, before_lines)) & accepted_shots  # no accepted clip made again
    after = accepted_files(run)
    assert all(after.get(k) == v for k, v in before_files.items())
    assert_no_leftovers(run)


MAKE_POINTS = ["plan:done", "check:done:1", "cut:start", "cut:progress:2", "verify:start", "deliver:done"]


@pytest.mark.parametrize("point", MAKE_POINTS)
def test_make_killed_at_each_step_resumes_to_the_asked_path(tmp_path, point):
    runs, out = tmp_path / "runs", tmp_path / "deliver" / "video.mp4"
    proc = rw("make", "a dog walks in a park", "-d", "3", "--resolution", "360p", "-o", str(out),
              "--runs-dir", str(runs), crash=point)
    assert proc.returncode == -signal.SIGKILL, (proc.returncode, proc.stderr[-500:])
    run = only_run(runs)
    resume_and_check(run, runs, out, 72)


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    base = tmp_path_factory.mktemp("finished")
    runs, out = base / "runs", base / "video.mp4"
    proc = rw("make", "a dog walks in a park", "-d", "3", "--resolution", "360p", "-o", str(out),
              "--runs-dir", str(runs))
    assert proc.returncode == 0, proc.stderr
    return only_run(runs)


EDIT = "add 'SALE' at 0:01 for 1 seconds"


@pytest.mark.parametrize("point", ["edit:start", "cut:start", "cut:done", "edit:done"])
def test_an_interrupted_edit_is_all_or_nothing_and_applies_once(tmp_path, finished_run, point):
    runs = tmp_path / "runs"
    shutil.copytree(finished_run.root, runs / finished_run.id)
    run = RunDir(runs / finished_run.id)
    out = tmp_path / "edited.mp4"
    proc = rw("edit", run.id, EDIT, "-o", str(out), "--runs-dir", str(runs), crash=point)
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-500:]
    plan = run.load_plan()
    assert len(plan.overlays) <= 1
    assert probe(run.final_path).frames == plan.target_frames
    before_files, before_lines = accepted_files(run), trace_len(run)
    proc = rw("edit", run.id, EDIT, "-o", str(out), "--runs-dir", str(runs))  # the same edit, again
    assert proc.returncode == 0, proc.stderr
    assert [o.text for o in run.load_plan().overlays] == ["SALE"]  # once, not twice
    assert probe(out).frames == plan.target_frames
    assert generated_after(run, before_lines) == []
    assert accepted_files(run) == before_files
    assert_no_leftovers(run)


@pytest.mark.parametrize("point", ["check:done:1", "cut:done", "extend:done"])
def test_extend_killed_at_each_step_resumes_to_the_whole_target(tmp_path, point):
    src = make_test_clip(tmp_path / "src.mp4", seconds=2, width=640, height=360)
    runs, out = tmp_path / "runs", tmp_path / "long.mp4"
    proc = rw("extend", str(src), "--to", "4", "-o", str(out), "--runs-dir", str(runs), crash=point)
    assert proc.returncode == -signal.SIGKILL, (proc.returncode, proc.stderr[-500:])
    run = only_run(runs)
    resume_and_check(run, runs, out, 96)  # the original and the continuation, not only the continuation
    assert run.load_report().get("status") == "done"


def test_a_killed_resume_is_resumed(tmp_path):
    runs, out = tmp_path / "runs", tmp_path / "v.mp4"
    proc = rw("make", "a dog walks", "-d", "3", "--resolution", "360p", "-o", str(out), "--runs-dir", str(runs),
              crash="cut:start")
    assert proc.returncode == -signal.SIGKILL
    run = only_run(runs)
    assert rw("resume", run.id, "--runs-dir", str(runs), crash="verify:start").returncode == -signal.SIGKILL
    resume_and_check(run, runs, out, 72)


def test_a_plain_file_edit_killed_midway_leaves_nothing_behind(tmp_path):
    src = make_test_clip(tmp_path / "in.mp4", seconds=2)
    out = tmp_path / "out.mp4"
    proc = rw("edit", str(src), "add 'HI' at 0:00 for 1 seconds", "-o", str(out), crash="edit:progress:1")
    assert proc.returncode == -signal.SIGKILL
    assert any(p.name.startswith(".out.edit-") for p in tmp_path.iterdir())  # what the kill left
    proc = rw("edit", str(src), "add 'HI' at 0:00 for 1 seconds", "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.mp4", "out.mp4"]
