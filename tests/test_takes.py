"""One take loop and one set of limits: a shot makes at most 1 + max_retries_per_shot takes whoever
drives (the fixed policy, the built-in tool policy, a chat model); harness limits are named checks that
stop the run; a model that gives up hands over to the fixed policy with a warning; the report takes
sections from other steps and an after-cut step sits between the cut and verification."""

from __future__ import annotations

import json
import shutil
from fractions import Fraction

import pytest

from reelwright.agent import run_agent
from reelwright.api import make_video, plan_video
from reelwright.director import Director, Limits
from reelwright.errors import (
    AgentError,
    BriefError,
    BudgetExceededError,
    ClipRejectedError,
    LengthExceeded,
    LimitExceeded,
    StepsExceeded,
    TakesExceeded,
    UserError,
)
from reelwright.events import EventBus
from reelwright.llm import get_llm
from reelwright.media import probe
from reelwright.runs.store import RunDir
from reelwright.tools import Toolbox
from tests.fakes.openai_server import FakeOpenAI, completion

from .gen_fakes import ScriptedGenerator, scripted  # noqa: F401 (scripted: an autouse fixture)

ALWAYS_BLACK = ["black"] * 12  # more failures than any driver may ask for


@pytest.fixture
def openai_server():
    with FakeOpenAI() as server:
        yield server


def cat_plan(llm: str | None = None):
    plan = plan_video("a cat naps, then stretches", generator="scripted", duration=6, resolution="360p")
    if llm:
        plan.brief = plan.brief.model_copy(update={"llm": llm})
    return plan


def takes_of(shot_id: str) -> int:
    return sum(1 for c in ScriptedGenerator.calls if c[0] == shot_id)


# ---------------------------------------------------------------- the named checks

def test_each_limit_is_a_named_check_raising_its_own_class():
    limits = Limits(max_steps=3, max_retries_per_shot=1, max_spend_usd=1.0)
    limits.check_steps(2)
    with pytest.raises(StepsExceeded, match=r"max steps \(3\) reached"):
        limits.check_steps(3)
    limits.check_takes("s01", 1)
    with pytest.raises(TakesExceeded, match="s01 used its 2 takes"):
        limits.check_takes("s01", 2)
    limits.check_spend(0.5, 0.5, "s01", 0.5)  # exactly the budget is within it
    with pytest.raises(BudgetExceededError, match=r"cross the budget of \$1\.00"):
        limits.check_spend(0.5, 0.51, "s01", 0.5)
    Limits.check_length(Fraction(3600), False)
    with pytest.raises(LengthExceeded, match="over an hour"):
        Limits.check_length(Fraction(3601), False)
    Limits.check_length(Fraction(3601), True)


def test_limits_stop_the_run_and_are_not_errors_the_model_can_fix():
    for cls in (StepsExceeded, TakesExceeded, BudgetExceededError, LengthExceeded):
        assert issubclass(cls, LimitExceeded) and issubclass(cls, UserError)
        assert not issubclass(cls, AgentError)
    assert issubclass(LengthExceeded, BriefError)  # callers that catch a bad request still catch it
    assert issubclass(ClipRejectedError, AgentError)


def test_over_an_hour_is_refused_by_the_same_check_in_the_api():
    with pytest.raises(LengthExceeded, match="over an hour; pass --allow-long"):
        make_video("a long walk", generator="scripted", duration=3601, resolution="360p")


# ---------------------------------------------------------------- 1 + max_retries takes, whoever drives

@pytest.mark.parametrize("retries", [0, 2])
def test_fixed_policy_makes_at_most_one_plus_max_retries_takes(tmp_path, retries):
    plan = cat_plan()
    sid = plan.shots[0].id
    ScriptedGenerator.reset({sid: list(ALWAYS_BLACK)})
    with pytest.raises(ClipRejectedError, match=f"{sid} failed its checks {1 + retries} times"):
        make_video(plan=plan, output=tmp_path / "v.mp4", runs_dir=tmp_path / "r",
                   limits=Limits(max_retries_per_shot=retries))
    assert takes_of(sid) == 1 + retries
    assert not (tmp_path / "v.mp4").exists()


def test_agent_without_a_model_makes_at_most_one_plus_max_retries_takes(tmp_path):
    plan = cat_plan()
    sid = plan.shots[0].id
    ScriptedGenerator.reset({sid: list(ALWAYS_BLACK)})
    with pytest.raises(BriefError, match="agent stopped without delivering"):
        make_video(plan=plan, agent=True, output=tmp_path / "v.mp4", runs_dir=tmp_path / "r")
    assert takes_of(sid) == 3  # before: up to 9 (3 in generate_clip, then 3 per regenerate_clip)
    report = json.loads(next((tmp_path / "r").iterdir()).joinpath("report.json").read_text())
    assert report["status"] == "failed" and report["agent"]["policy"] == "builtin"
    assert report["shots_by_id"][sid]["attempts"] == 3


def test_llm_agent_makes_at_most_one_plus_max_retries_takes_then_stops_on_the_limit(openai_server, tmp_path):
    plan = cat_plan()
    sid = plan.shots[0].id
    ScriptedGenerator.reset({sid: list(ALWAYS_BLACK)})
    moves = iter([("plan_shots", {}), ("generate_clip", {"shot_id": sid})])
    # A stubborn model: after generating, it regenerates the failing shot with new words each turn.
    turn = iter(range(100))
    openai_server.responder = lambda body: completion(tool_calls=[next(moves, None) or (
        "regenerate_clip", {"shot_id": sid, "feedback": f"brighter, try {next(turn)}"})])
    bus = EventBus()
    director = Director(plan.brief, run=RunDir.create(tmp_path / "runs", plan.brief), generator=ScriptedGenerator(),
                        bus=bus, limits=Limits(max_retries_per_shot=2))
    director.set_plan(plan)
    toolbox = Toolbox(director, output=tmp_path / "out.mp4")
    report = run_agent(toolbox, get_llm("openai:gpt-4.1-mini", base_url=openai_server.base_url), plan.brief,
                       limits=director.limits, bus=bus)
    assert takes_of(sid) == 3
    assert not report.finished and report.stopped_by == "limit"
    assert f"shot {sid} used its 3 takes" in report.stop_reason
    # the rejected clip went back to the model (a tool result) before the limit stopped the run
    tool_texts = [m.get("content") or "" for r in openai_server.requests for m in r.body["messages"]
                  if m.get("role") == "tool"]
    assert any(f"{sid} rejected: shot {sid} failed its checks 3 times" in t for t in tool_texts), tool_texts


def test_llm_agent_takes_count_with_the_fixed_policys_takes(openai_server, tmp_path):
    """The budget of takes is the shot's, not the caller's: after the tools used two, one is left."""
    plan = cat_plan()
    sid = plan.shots[0].id
    ScriptedGenerator.reset({sid: ["black", "black"]})
    director = Director(plan.brief, run=RunDir.create(tmp_path / "runs", plan.brief), generator=ScriptedGenerator(),
                        limits=Limits(max_retries_per_shot=2))
    director.set_plan(plan)
    toolbox = Toolbox(director)
    toolbox.call("plan_shots", {})
    assert toolbox.takes_left(sid) == 3
    outcome = director.produce_shot(plan.shots[0])
    assert outcome.attempts == 3 and toolbox.takes_left(sid) == 0
    with pytest.raises(TakesExceeded):
        toolbox.call("regenerate_clip", {"shot_id": sid, "feedback": "more light"})
    assert takes_of(sid) == 3


# ---------------------------------------------------------------- a model that gives up

def _fallback_run(openai_server, tmp_path, responder):
    openai_server.responder = responder
    plan = cat_plan(llm="openai:gpt-4.1-mini")
    bus = EventBus()
    events: list = []
    bus.subscribe(events.append)
    d = make_video(plan=plan, agent=True, output=tmp_path / "v.mp4", runs_dir=tmp_path / "r", bus=bus,
                   llm_base_url=openai_server.base_url, judge=False)
    report = json.loads(d.run.report_path.read_text())
    return d, report, events


def test_a_model_that_never_calls_a_tool_falls_back_to_the_fixed_policy(openai_server, tmp_path):
    d, report, events = _fallback_run(openai_server, tmp_path, lambda body: completion("Let me think about it."))
    assert probe(d.output).frames == 144
    assert report["status"] == "done"
    assert report["agent"]["stopped_by"] == "model" and not report["agent"]["finished"]
    assert report["agent_fallback"]["finished"] and report["agent_fallback"]["policy"] == "builtin"
    assert any("the model stopped calling tools" in w for w in report["warnings"])
    assert any(e.step == "agent" and e.status == "warning" for e in events)


def test_a_model_that_loops_on_one_tool_falls_back_to_the_fixed_policy(openai_server, tmp_path):
    d, report, _ = _fallback_run(openai_server, tmp_path, lambda body: completion(tool_calls=[("plan_shots", {})]))
    assert probe(d.output).frames == 144
    assert "repeated plan_shots" in report["agent"]["stop_reason"]
    assert report["warnings"] and report["agent_fallback"]["finished"]


# ---------------------------------------------------------------- report sections and the after-cut step

def test_report_sections_and_an_after_cut_step_reach_the_delivery(tmp_path):
    plan = cat_plan()
    seen: list = []

    def sound(production, cut):
        out = cut.with_name("cut-with-sound.mp4")
        shutil.copyfile(cut, out)
        seen.append((production.plan is plan, cut.name))
        production.report.add_section("audio", {"mixed": True})
        return out

    run = RunDir.create(tmp_path / "runs", plan.brief)
    director = Director(plan.brief, run=run, generator=ScriptedGenerator(), after_cut=[sound])
    director.set_plan(plan)
    director.report.add_section("notes", {"by": "test"})
    d = director.run_all(tmp_path / "v.mp4")
    assert seen == [(True, "cut.mp4")]
    assert not (run.root / "cut-with-sound.mp4").exists()  # it became final.mp4
    assert probe(d.output).frames == 144
    report = json.loads(run.report_path.read_text())
    assert report["audio"] == {"mixed": True} and report["notes"] == {"by": "test"}
    assert report["status"] == "done"
