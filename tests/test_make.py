"""End to end: a request becomes a finished, duration-exact video, offline, with checks, retries,
budget and resume."""

from __future__ import annotations

import json
from fractions import Fraction

import av
import numpy as np
import pytest

from reelwright.api import make_video, plan_video, resume_run
from reelwright.errors import BriefError, BudgetExceededError, ClipRejectedError
from reelwright.media import probe

from .gen_fakes import ScriptedGenerator, scripted  # noqa: F401 (scripted: an autouse fixture)

DOG = "generate a 1 min video of a dog going on a walk, sniffing around, getting a pup cup, meeting a friend"


def decode_errors(path) -> int:
    errors = 0
    with av.open(str(path)) as c:
        for packet in c.demux():
            try:
                packet.decode()
            except av.error.FFmpegError:
                errors += 1
    return errors


@pytest.mark.slow
def test_dog_walk_request_becomes_a_60_second_video(tmp_path):
    out = tmp_path / "dog.mp4"
    delivery = make_video(DOG, output=out, runs_dir=tmp_path / "runs", resolution="360p")
    info = probe(out)
    assert abs(info.video_duration - 60) <= Fraction(1, 24)
    assert abs(info.duration - 60) <= Fraction(1, 24)
    assert info.frames == 1440
    assert (info.vcodec, info.acodec) == ("h264", "aac")
    assert info.faststart
    assert decode_errors(out) == 0
    beats = " | ".join(s.beat for s in delivery.plan.shots).lower()
    positions = [beats.find(b) for b in ("walk", "sniff", "pup cup", "friend")]
    assert all(p >= 0 for p in positions) and positions == sorted(positions)
    run = delivery.run
    for name in ("brief.json", "plan.json", "final.mp4", "report.json", "trace.jsonl", "state.json"):
        assert (run.root / name).is_file(), name
    report = json.loads(run.report_path.read_text())
    assert report["status"] == "done" and report["final_checks"]["passed"]
    steps = {json.loads(line)["step"] for line in run.trace_path.read_text().splitlines()}
    assert {"plan", "generate", "check", "cut", "verify", "deliver"} <= steps


def test_every_shot_is_generated_and_cut_is_exact_with_a_snapping_generator(tmp_path):
    # durations {2,3,4} s only: 7.5 s at 24 fps must still come out as 180 frames
    out = tmp_path / "v.mp4"
    d = make_video("a cat naps, then stretches", output=out, runs_dir=tmp_path / "r", generator="scripted",
                   duration="7.5", resolution="360p")
    assert probe(out).frames == 180
    assert all(s.gen_duration in (2, 3, 4) for s in d.plan.shots)
    assert sorted(c[0] for c in ScriptedGenerator.calls) == sorted(s.id for s in d.plan.shots)


def test_failed_clip_is_regenerated_with_new_seed_and_revised_prompt(tmp_path):
    plan = plan_video("a cat naps, then stretches", generator="scripted", duration=6, resolution="360p")
    first = plan.shots[0].id
    ScriptedGenerator.reset({first: ["black"]})
    d = make_video(plan=plan, output=tmp_path / "v.mp4", runs_dir=tmp_path / "r")
    attempts = [c for c in ScriptedGenerator.calls if c[0] == first]
    assert len(attempts) == 2
    assert attempts[0][1] != attempts[1][1]  # seed changed
    assert attempts[1][2] != attempts[0][2] and "lit" in attempts[1][2]  # prompt revised from the reason
    report = json.loads(d.run.report_path.read_text())
    assert report["shots_by_id"][first]["attempts"] == 2


def test_too_short_clip_is_rejected_then_regenerated(tmp_path):
    plan = plan_video("a cat naps", generator="scripted", duration=4, resolution="360p")
    ScriptedGenerator.reset({plan.shots[0].id: ["short"]})
    make_video(plan=plan, output=tmp_path / "v.mp4", runs_dir=tmp_path / "r")
    assert probe(tmp_path / "v.mp4").frames == 96


def test_shot_failing_every_attempt_stops_the_run_clearly(tmp_path):
    plan = plan_video("a cat naps", generator="scripted", duration=4, resolution="360p")
    sid = plan.shots[0].id
    ScriptedGenerator.reset({sid: ["black", "black", "black"]})
    with pytest.raises(ClipRejectedError, match=sid):
        make_video(plan=plan, output=tmp_path / "v.mp4", runs_dir=tmp_path / "r")
    assert not (tmp_path / "v.mp4").exists()


def test_moderation_block_rewrites_the_prompt_instead_of_retrying_it(tmp_path):
    plan = plan_video("a knight's sword fight in a castle", generator="scripted", duration=4, resolution="360p")
    sid = plan.shots[0].id
    ScriptedGenerator.reset({sid: ["moderation"]})
    make_video(plan=plan, output=tmp_path / "v.mp4", runs_dir=tmp_path / "r")
    prompts = [c[2] for c in ScriptedGenerator.calls if c[0] == sid]
    assert len(prompts) == 2 and prompts[1] != prompts[0]
    assert prompts[1].startswith("A family-friendly")


def test_budget_stops_before_a_clip_would_cross_it(tmp_path):
    with pytest.raises(BudgetExceededError):
        make_video("a cat naps, then stretches, then eats", generator="scripted", duration=12, resolution="360p",
                   budget_usd=0.5, output=tmp_path / "v.mp4", runs_dir=tmp_path / "r")
    run_dir = next((tmp_path / "r").iterdir())
    state = json.loads((run_dir / "state.json").read_text())
    assert 0 < state["spent_usd"] <= 0.5
    assert not (tmp_path / "v.mp4").exists()


def test_resume_reuses_every_accepted_clip(tmp_path):
    plan = plan_video("a cat naps, then stretches, then eats, then sleeps", generator="scripted", duration=12,
                      resolution="360p")
    ids = [s.id for s in plan.shots]
    assert len(ids) >= 3
    ScriptedGenerator.reset({ids[-1]: ["interrupt"]})
    with pytest.raises(KeyboardInterrupt):
        make_video(plan=plan, output=tmp_path / "v.mp4", runs_dir=tmp_path / "r")
    made_before = {c[0] for c in ScriptedGenerator.calls}
    run_dir = next((tmp_path / "r").iterdir())
    state = json.loads((run_dir / "state.json").read_text())
    assert state["status"] == "interrupted"
    ScriptedGenerator.calls = []
    d = resume_run(run_dir, output=tmp_path / "v.mp4")
    again = [c[0] for c in ScriptedGenerator.calls]
    accepted_before = made_before - {ids[-1]}
    assert not (set(again) & accepted_before), "accepted clips were regenerated"
    assert ids[-1] in again
    assert probe(d.output).frames == plan.target_frames


def _block_diff_max(a, b, block=16):
    """Largest mean absolute difference over 16x16 blocks: text shows up, re-encoding noise does not."""
    d = np.abs(a - b)
    h, w = (d.shape[0] // block) * block, (d.shape[1] // block) * block
    return d[:h, :w].reshape(h // block, block, w // block, block).mean(axis=(1, 3)).max()


def _gray_at(path, t):
    with av.open(str(path)) as c:
        for f in c.decode(c.streams.video[0]):
            if f.time is not None and f.time >= t - 1e-6:
                return f.to_ndarray(format="gray").astype(float)
    raise AssertionError(f"no frame at {t}")


def test_overlay_appears_only_inside_its_window(tmp_path):
    plan = plan_video("a calm blue sea. show 'SALE 50%' at 0:02 for 2 seconds", generator="scripted", duration=6,
                      resolution="360p")
    assert [(o.text, o.start, o.duration) for o in plan.overlays] == [("SALE 50%", 2, 2)]
    bare = plan.model_copy(deep=True)
    bare.overlays = []
    with_text = make_video(plan=plan, output=tmp_path / "text.mp4", runs_dir=tmp_path / "r1").output
    without = make_video(plan=bare, output=tmp_path / "bare.mp4", runs_dir=tmp_path / "r2").output
    assert _block_diff_max(_gray_at(with_text, 3.0), _gray_at(without, 3.0)) > 40
    assert _block_diff_max(_gray_at(with_text, 2.0 + 1 / 24), _gray_at(without, 2.0 + 1 / 24)) > 40
    assert _block_diff_max(_gray_at(with_text, 1.5), _gray_at(without, 1.5)) < 15
    assert _block_diff_max(_gray_at(with_text, 4.5), _gray_at(without, 4.5)) < 15


def test_agent_flag_without_a_model_runs_the_builtin_policy_over_the_same_tools(tmp_path):
    d = make_video("a cat naps, then stretches", agent=True, generator="scripted", duration=6, resolution="360p",
                   output=tmp_path / "v.mp4", runs_dir=tmp_path / "r")
    report = json.loads(d.run.report_path.read_text())
    assert report["agent"]["policy"] == "builtin" and report["agent"]["finished"]
    assert report["agent"]["tool_calls"] >= len(d.plan.shots) + 2  # plan, every clip, finish
    assert probe(d.output).frames == 144


def test_dissolve_between_shots_asks_for_spare_frames_and_keeps_the_total_exact(tmp_path):
    plan = plan_video("a cat naps, then stretches", generator="scripted", duration=6, resolution="360p")
    first = plan.shots[0]
    first.transition = "dissolve"
    d = make_video(plan=plan, output=tmp_path / "v.mp4", runs_dir=tmp_path / "r")
    asked = dict(ScriptedGenerator.durations_asked)
    # the shot before the dissolve is generated long enough to overlap the next one by half a second
    assert asked[first.id] * 24 >= first.frames + 12
    info = probe(d.output)
    assert info.frames == 144 and abs(info.duration - 6) <= Fraction(1, 24)


def test_plain_cuts_keep_the_generated_length(tmp_path):
    plan = plan_video("a cat naps, then stretches", generator="scripted", duration=6, resolution="360p")
    make_video(plan=plan, output=tmp_path / "v.mp4", runs_dir=tmp_path / "r")
    asked = dict(ScriptedGenerator.durations_asked)
    assert all(asked[s.id] == s.gen_duration for s in plan.shots)


def test_concurrency_option_bounds_clips_made_at_once(tmp_path, monkeypatch):
    import threading
    import time

    live, peak = [0], [0]
    lock = threading.Lock()
    original = ScriptedGenerator.generate

    def counting(self, request, progress=None):
        with lock:
            live[0] += 1
            peak[0] = max(peak[0], live[0])
        try:
            time.sleep(0.2)  # hold the slot so overlapping calls would be seen
            return original(self, request, progress)
        finally:
            with lock:
                live[0] -= 1

    monkeypatch.setattr(ScriptedGenerator, "generate", counting)
    make_video("a cat naps, then stretches, then eats, then sleeps", generator="scripted", duration=12,
               resolution="360p", concurrency=1, output=tmp_path / "v.mp4", runs_dir=tmp_path / "r")
    assert peak[0] == 1
    with pytest.raises(BriefError):
        make_video("a cat naps", generator="scripted", duration=4, concurrency=0, output=tmp_path / "w.mp4",
                   runs_dir=tmp_path / "r")
