"""Run folders under concurrent writers and half-done edits (issue 12 leftovers): one writer per run folder
(a second make/resume/edit is refused in one line, exit 2, and a kill -9 never leaves the lock behind);
an edit of a run whose final does not decode warns; a killed, uncommitted edit leaves plan, state and video
of the committed run together, and the edit re-run applies once."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path

import av
import numpy as np
import pytest

from reelwright.media import probe
from reelwright.runs.lock import RunInUse, run_lock
from reelwright.runs.store import RunDir

from .test_cli import assert_clean_user_error
from .test_prod_crash import RW, accepted_files, generated_after, only_run, resume_and_check, rw, trace_len


def _stopped(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] == "T"


def test_a_second_writer_is_refused_at_once_and_a_killed_holder_frees_the_run(tmp_path):
    runs, out = tmp_path / "runs", tmp_path / "video.mp4"
    env = {**{k: v for k, v in os.environ.items() if k != "REELWRIGHT_CRASH_AT"},
           "REELWRIGHT_CRASH_AT": "cut:start:1:STOP"}  # the first writer freezes mid-make, holding the run
    first = subprocess.Popen([*RW, "make", "a dog walks in a park", "-d", "3", "--resolution", "360p", "-o", str(out),
                              "--runs-dir", str(runs)], env=env, stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while not _stopped(first.pid):
            assert first.poll() is None and time.monotonic() < deadline, "the first make never reached the cut"
            time.sleep(0.1)
        run = only_run(runs)
        state_before = run.state_path.read_bytes()
        for args in (["resume", run.id], ["edit", run.id, "add 'HI' at 0:00 for 1 seconds"]):
            t0 = time.monotonic()
            proc = rw(*args, "--runs-dir", str(runs))
            assert_clean_user_error(proc, f"run {run.id} is in use by another reelwright process (pid {first.pid})")
            assert time.monotonic() - t0 < 15  # refused at once, not after waiting for the holder
        assert run.state_path.read_bytes() == state_before  # the refused writers wrote nothing
        assert not out.exists()
    finally:
        first.kill()  # SIGKILL: no handler runs, the kernel drops the lock with the process
        first.wait(timeout=30)
    assert first.returncode == -signal.SIGKILL
    resume_and_check(run, runs, out, 72)  # the lock is free: resume finishes, reusing every accepted clip


def test_the_lock_is_reentrant_in_its_thread_and_refuses_other_threads(tmp_path):
    seen: list[BaseException] = []
    with run_lock(tmp_path):
        with run_lock(tmp_path):  # a worker that prepares a run and then resumes it takes it once
            pass
        worker = threading.Thread(target=lambda: _try_lock(tmp_path, seen))
        worker.start()
        worker.join()
    assert len(seen) == 1 and isinstance(seen[0], RunInUse) and seen[0].exit_code == 2
    assert (tmp_path / ".lock").read_text().strip() == str(os.getpid())
    with run_lock(tmp_path):  # released when the block ended
        pass


def _try_lock(root: Path, seen: list[BaseException]) -> None:
    try:
        with run_lock(root):
            pass
    except RunInUse as exc:
        seen.append(exc)


def test_a_lock_held_by_another_process_refuses_resume_of_an_extend_run(tmp_path):
    from .conftest import make_test_clip

    src = make_test_clip(tmp_path / "src.mp4", seconds=1, width=320, height=180)
    runs, out = tmp_path / "runs", tmp_path / "long.mp4"
    proc = rw("extend", str(src), "--to", "2", "-o", str(out), "--runs-dir", str(runs), crash="cut:done")
    assert proc.returncode == -signal.SIGKILL
    run = only_run(runs)
    with run_lock(run.root):  # this test's process is the other writer
        assert_clean_user_error(rw("resume", run.id, "--runs-dir", str(runs)), f"(pid {os.getpid()})")
    proc = rw("resume", run.id, "--runs-dir", str(runs))
    assert proc.returncode == 0, proc.stderr
    assert probe(out).frames == 48


# -- a run edit warns when the run's final does not decode (finding 10, for runs) -----------------------------

@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    base = tmp_path_factory.mktemp("finished")
    runs = base / "runs"
    proc = rw("make", "a dog walks in a park, then a cat sleeps", "-d", "4", "--resolution", "360p",
              "-o", str(base / "video.mp4"), "--runs-dir", str(runs))
    assert proc.returncode == 0, proc.stderr
    return only_run(runs)


def _copy(run: RunDir, tmp_path: Path) -> tuple[RunDir, Path]:
    runs = tmp_path / "runs"
    shutil.copytree(run.root, runs / run.id)
    return RunDir(runs / run.id), runs


def test_editing_a_run_whose_final_does_not_all_decode_warns(tmp_path, finished_run):
    from reelwright.critique.technical import decode_errors

    run, runs = _copy(finished_run, tmp_path)
    data = bytearray(run.final_path.read_bytes())
    mid = len(data) // 2
    data[mid: mid + 20000] = bytes(20000)
    run.final_path.write_bytes(bytes(data))
    assert decode_errors(run.final_path)  # it really is damaged
    proc = rw("edit", run.id, "add 'HI' at 0:00 for 1 seconds", "--runs-dir", str(runs))
    assert proc.returncode == 0, proc.stderr
    assert "do not decode" in proc.stderr and run.id in proc.stderr, proc.stderr
    assert not decode_errors(run.final_path)  # the edit was cut again from the clips
    assert any("do not decode" in n for n in run.load_state().history[-1]["notes"])


# -- a killed, uncommitted edit: plan, state and video stay the committed run's -----------------------------

REPLACE = "replace shot 1 with a red kite over the sea"


def _first_frame_mean(path: Path) -> np.ndarray:
    with av.open(str(path)) as c:
        frame = next(c.decode(video=0))
        return frame.to_ndarray(format="rgb24").astype(float).mean(axis=(0, 1))


def test_a_killed_uncommitted_edit_leaves_state_with_its_plan_and_the_edit_rerun_applies_once(tmp_path, finished_run):
    run, runs = _copy(finished_run, tmp_path)
    committed = run.load_state()
    old_plan = run.load_plan()
    old_look = _first_frame_mean(run.final_path)
    proc = rw("edit", run.id, REPLACE, "--runs-dir", str(runs), crash="cut:done")  # new clip made and cut, not committed
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-500:]
    state = run.load_state()
    assert run.load_plan() == old_plan
    assert state.cut_clips == committed.cut_clips  # not the new plan's clips beside the old plan
    assert state.status == "done"
    assert len(state.accepted) == len(committed.accepted) + 1  # the paid-for clip is kept for the re-run

    proc = rw("resume", run.id, "--runs-dir", str(runs))  # resume: the committed run, as it was
    assert proc.returncode == 0, proc.stderr
    assert run.load_plan() == old_plan and run.load_state().cut_clips == committed.cut_clips
    assert probe(run.final_path).frames == old_plan.target_frames
    assert np.abs(_first_frame_mean(run.final_path) - old_look).max() < 3

    lines = trace_len(run)
    files = accepted_files(run)
    proc = rw("edit", run.id, REPLACE, "--runs-dir", str(runs))  # the edit again: applied, nothing regenerated
    assert proc.returncode == 0, proc.stderr
    assert generated_after(run, lines) == []
    assert accepted_files(run) == files
    plan, state = run.load_plan(), run.load_state()
    assert "kite" in plan.shots[0].prompt
    assert state.cut_clips["s01"] != committed.cut_clips["s01"]
    assert state.cut_clips["s01"] in state.accepted and state.cut_clips["s02"] == committed.cut_clips["s02"]
    assert np.abs(_first_frame_mean(run.final_path) - old_look).max() > 3  # the new shot is in the video
    edited = run.final_path.read_bytes()

    proc = rw("edit", run.id, REPLACE, "--runs-dir", str(runs))  # and again: the same video, the same state
    assert proc.returncode == 0, proc.stderr
    assert run.load_plan() == plan and run.load_state().cut_clips == state.cut_clips
    assert generated_after(run, lines) == []
    assert probe(run.final_path).frames == plan.target_frames
    assert np.abs(_first_frame_mean(run.final_path) - _first_frame_mean_bytes(edited, tmp_path)).max() < 1


def _first_frame_mean_bytes(data: bytes, tmp_path: Path) -> np.ndarray:
    p = tmp_path / "copy.mp4"
    p.write_bytes(data)
    return _first_frame_mean(p)


def test_resume_rolls_a_committed_edit_forward_instead_of_recutting_the_old_plan(tmp_path, finished_run, monkeypatch):
    from reelwright.editing.apply import edit_run
    from reelwright.runs import transaction

    run, runs = _copy(finished_run, tmp_path)

    def killed(*_a, **_k):  # the commit record is on disk; the process dies before applying it
        raise KeyboardInterrupt

    monkeypatch.setattr(transaction, "apply", killed)
    with pytest.raises(KeyboardInterrupt):
        edit_run(run.root, "add 'SALE' at 0:01 for 1 seconds")
    monkeypatch.undo()
    assert transaction.pending_path(run).is_file() and run.load_plan().overlays == []
    proc = rw("resume", run.id, "--runs-dir", str(runs))
    assert proc.returncode == 0, proc.stderr
    assert [o.text for o in run.load_plan().overlays] == ["SALE"]
    assert [h["request"] for h in run.load_state().history] == ["add 'SALE' at 0:01 for 1 seconds"]
    assert not transaction.pending_path(run).exists() and not transaction.next_final_path(run).exists()
    assert probe(run.final_path).frames == run.load_plan().target_frames
