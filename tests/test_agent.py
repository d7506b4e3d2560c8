"""The tool-using agent: a scripted chat model on a fake server drives the real Toolbox to a finished
video; errors the model can fix go back to it; limits hold; a long job's context stays in budget."""

from __future__ import annotations

import json
import re
from fractions import Fraction
from typing import Any

import pytest

from reelwright.agent import builtin_policy, run_agent, shorten, summarise_result
from reelwright.brief import Brief
from reelwright.director import Director, Limits
from reelwright.errors import FFmpegError
from reelwright.events import EventBus
from reelwright.generators.animatic import AnimaticGenerator
from reelwright.llm import get_llm
from reelwright.media.probe import probe
from reelwright.plan import Plan, Shot
from reelwright.runs.store import RunDir
from reelwright.tools import Toolbox, ToolResult
from tests.fakes.anthropic_server import FakeAnthropic, message
from tests.fakes.openai_server import FakeOpenAI, completion

FPS = 12


# ---------------------------------------------------------------- a scripted model that reads its context

def visible_texts(body: dict[str, Any]) -> list[str]:
    """Every text the model was shown (OpenAI or Anthropic request), in order."""
    out = [body["system"]] if isinstance(body.get("system"), str) else []
    for m in body["messages"]:
        content = m.get("content")
        if isinstance(content, str):
            out.append(content)
        elif isinstance(content, list):
            for part in content:
                if part.get("type") == "text":
                    out.append(part["text"])
                elif part.get("type") == "tool_result":
                    out.append(part["content"] if isinstance(part["content"], str) else json.dumps(part["content"]))
    return out


def dense_prompt(shot: str) -> str:
    """What a model writes when it rewrites a shot's prompt on the way: ~130 words."""
    return (f"Shot {shot}: a small scruffy terrier trots along a sunlit cobblestone street in an old town, nose "
            "low to the ground, tail up, ears flicking at every sound; shop awnings in faded red and green, a "
            "baker sweeping flour dust from a doorway, bicycles leaning on iron railings, pigeons lifting off "
            "as the dog passes. Medium tracking shot at dog height, 35mm lens, shallow depth of field, warm "
            "golden-hour light raking across the stones, soft haze, gentle film grain, natural colours. The "
            "camera keeps pace smoothly, then slows as the dog pauses to sniff a lamppost before trotting on. "
            "Ambient sound: distant chatter, a church bell, claws ticking on stone.")


def next_move(body: dict[str, Any], *, rewrite: bool = False):
    """What a diligent model does next, judged only from what it can see (so it fails if the harness
    drops facts it needs): plan, generate each shot, regenerate rejects, concat, finish."""
    seen = "\n".join(visible_texts(body))
    shots = re.findall(r"^\s*\d+ (s\d+) ", seen, re.M)
    if not shots:
        return [("plan_shots", {})]
    accepted = set(re.findall(r"\b(s\d+) (?:accepted|reused)", seen))
    for line in re.findall(r"^- accepted \(\d+\): (.*)$", seen, re.M):
        accepted |= set(line.split())
    rejected = dict(re.findall(r"^(s\d+) rejected: (.*)$", seen, re.M))
    rejected.update(re.findall(r"^- rejected (s\d+) \(regenerations used \d+\): (.*)$", seen, re.M))
    for shot in shots:
        if shot in accepted:
            continue
        if shot in rejected:
            return [("regenerate_clip", {"shot_id": shot, "feedback": "make the subject clearly visible"})]
        return [("generate_clip", {"shot_id": shot, "prompt": dense_prompt(shot)} if rewrite else {"shot_id": shot})]
    if "cut ready" not in seen:
        return [("concat", {})]
    return [("finish", {})]


def openai_director(body):
    return completion(tool_calls=next_move(body))


def anthropic_director(body):
    return message("Next step.", tool_uses=next_move(body))


# ---------------------------------------------------------------- a real job: animatic at a tiny size

def tiny_job(tmp_path, n_shots: int = 2, *, limits: Limits | None = None):
    brief = Brief(request="a dog walks to a cafe and gets a pup cup", duration=n_shots, fps=FPS, resolution="360p")
    shots = [Shot(id=f"s{i + 1:02d}", beat=beat, prompt=f"A small dog {beat}, warm morning light.",
                  start_frame=i * FPS, frames=FPS, gen_duration=1)
             for i, beat in enumerate(["walks to a cafe", "gets a pup cup", "licks the cup", "walks home"][:n_shots])]
    plan = Plan(brief=brief, fps=FPS, width=160, height=90, target_frames=n_shots * FPS, shots=shots)
    bus = EventBus()
    events: list = []
    bus.subscribe(events.append)
    director = Director(brief, run=RunDir.create(tmp_path / "runs", brief), generator=AnimaticGenerator(), bus=bus,
                        limits=limits or Limits())
    director.set_plan(plan)
    return Toolbox(director, output=tmp_path / "out.mp4"), brief, bus, events


@pytest.fixture
def openai_server():
    with FakeOpenAI() as server:
        yield server


def test_openai_agent_session_ends_in_a_finished_video(openai_server, tmp_path):
    openai_server.responder = openai_director
    toolbox, brief, bus, events = tiny_job(tmp_path)
    llm = get_llm("openai:gpt-4.1-mini", base_url=openai_server.base_url)
    report = run_agent(toolbox, llm, brief, limits=toolbox.limits, bus=bus)
    assert report.finished and report.stop_reason == "finished"
    info = probe(tmp_path / "out.mp4")
    assert info.frames == 2 * FPS and info.video_duration == Fraction(2) and info.has_audio
    called = [json.loads(b["messages"][-2]["tool_calls"][0]["function"]["arguments"]) | {
        "_": b["messages"][-2]["tool_calls"][0]["function"]["name"]} for b in openai_server.bodies[1:]]
    assert [c["_"] for c in called] == ["plan_shots", "generate_clip", "generate_clip", "concat"]
    assert report.steps == 5 and report.tool_calls == 5 and report.llm_calls == 5
    assert report.tokens_in == sum(c.tokens_in for c in llm.ledger) > 0 and report.tokens_out > 0
    assert {t["function"]["name"] for t in openai_server.bodies[0]["tools"]} >= {
        "plan_shots", "generate_clip", "regenerate_clip", "extend_clip", "check_clip", "overlay_text", "trim",
        "concat", "probe", "finish"}
    assert any(e.step == "agent" and e.status == "done" for e in events)


def test_anthropic_agent_session_ends_in_a_finished_video(tmp_path, monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test")
    toolbox, brief, bus, _ = tiny_job(tmp_path, n_shots=1)
    with FakeAnthropic(responder=anthropic_director) as server:
        llm = get_llm("anthropic:claude-sonnet-4-6", base_url=server.base_url)
        report = run_agent(toolbox, llm, brief, limits=toolbox.limits, bus=bus)
        last = server.bodies[-1]
    assert report.finished
    assert probe(tmp_path / "out.mp4").frames == FPS
    results = [b for m in last["messages"] if m["role"] == "user" and isinstance(m["content"], list)
               for b in m["content"] if b["type"] == "tool_result"]
    assert any("accepted" in r["content"] for r in results)


def test_a_fixable_tool_error_goes_back_to_the_model(openai_server, tmp_path):
    openai_server.push(completion(tool_calls=[("plan_shots", {})]),
                       completion(tool_calls=[("generate_clip", {"shot_id": "s9"})]))
    openai_server.responder = openai_director
    toolbox, brief, bus, _ = tiny_job(tmp_path, n_shots=1)
    report = run_agent(toolbox, get_llm("openai:gpt-4.1", base_url=openai_server.base_url), brief,
                       limits=toolbox.limits, bus=bus)
    tool_msg = openai_server.bodies[2]["messages"][-1]
    assert tool_msg["role"] == "tool" and tool_msg["content"].startswith("ERROR: no shot 's9'; shots are s01")
    assert report.finished and report.tool_errors == 1


def test_broken_tool_arguments_are_reported_not_run(openai_server, tmp_path):
    bad = completion(tool_calls=[("generate_clip", {})])
    bad["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"] = '{"shot_id": "s0'
    openai_server.push(bad)
    openai_server.responder = openai_director
    toolbox, brief, bus, _ = tiny_job(tmp_path, n_shots=1)
    report = run_agent(toolbox, get_llm("openai:gpt-4.1", base_url=openai_server.base_url), brief,
                       limits=toolbox.limits, bus=bus)
    assert "arguments are not a JSON object" in openai_server.bodies[1]["messages"][-1]["content"]
    assert report.finished and report.tool_errors == 1


def test_max_steps_stops_a_model_that_never_finishes(openai_server, tmp_path):
    openai_server.responder = lambda body: completion(tool_calls=[("plan_shots", {})])
    toolbox, brief, bus, events = tiny_job(tmp_path, n_shots=1, limits=Limits(max_steps=4))
    report = run_agent(toolbox, get_llm("openai:gpt-4.1", base_url=openai_server.base_url), brief,
                       limits=toolbox.limits, bus=bus)
    assert not report.finished and report.stop_reason == "max steps (4) reached"
    assert len(openai_server.requests) == 4
    assert any(e.step == "agent" and e.status == "failed" for e in events)


def test_a_model_that_stops_calling_tools_is_nudged_then_stopped(openai_server, tmp_path):
    openai_server.responder = lambda body: completion("I think the video is lovely.")
    toolbox, brief, bus, _ = tiny_job(tmp_path, n_shots=1)
    report = run_agent(toolbox, get_llm("openai:gpt-4.1", base_url=openai_server.base_url), brief,
                       limits=toolbox.limits, bus=bus)
    assert not report.finished and report.stop_reason == "the model stopped calling tools"
    assert len(openai_server.requests) == 3
    assert "Continue by calling a tool" in openai_server.bodies[1]["messages"][-1]["content"]


def test_an_implementation_error_stops_the_run(openai_server, tmp_path):
    openai_server.responder = openai_director
    toolbox, brief, bus, _ = tiny_job(tmp_path, n_shots=1)

    def broken_cut():
        raise FFmpegError(["ffmpeg", "-i", "x"], 1, "Invalid data found when processing input")

    toolbox.director.cut = broken_cut
    with pytest.raises(FFmpegError):
        run_agent(toolbox, get_llm("openai:gpt-4.1", base_url=openai_server.base_url), brief,
                  limits=toolbox.limits, bus=bus)
    assert not toolbox.finished


def test_builtin_policy_runs_the_same_tools_in_order(tmp_path):
    toolbox, brief, bus, events = tiny_job(tmp_path)
    report = builtin_policy(toolbox, brief, bus=bus)
    assert report.finished and report.policy == "builtin"
    assert probe(tmp_path / "out.mp4").frames == 2 * FPS
    tools = [e.message.split("(")[0] for e in events if e.step == "tool"]
    assert tools == ["plan_shots", "generate_clip", "generate_clip", "check_clip", "check_clip", "concat", "finish"]


# ---------------------------------------------------------------- context management

def test_long_logs_keep_the_lines_that_matter():
    log = "\n".join([f"frame={i} fps=24 q=28.0 size=1024kB" for i in range(300)] +
                    ["[h264 @ 0x1] error while decoding MB 3 4"] + ["muxing overhead: 0.1%", "done"])
    short = shorten(log, 400)
    assert len(short) < 500
    assert short.splitlines()[0] == "frame=0 fps=24 q=28.0 size=1024kB"
    assert "error while decoding MB 3 4" in short and "done" in short and "characters cut" in short


def test_probe_json_is_summarised_to_facts():
    raw = json.dumps({"streams": [{"codec_name": "h264", "width": 160, "height": 90, "r_frame_rate": "12/1",
                                   "tags": {"x": "y" * 2000}}], "format": {"duration": "2.000000"}})
    text = summarise_result("probe", raw, {})
    assert text == "codec_name=h264, width=160, height=90, r_frame_rate=12/1, duration=2.000000"


class SimulatedJob:
    """The Toolbox's contract at scale without rendering 80 clips: the real tool specs, results worded
    like the real tools, a long log on every rejection and a few rejections to regenerate."""

    def __init__(self, n_shots: int, reject: set[str]):
        self.specs = Toolbox(None, limits=Limits()).specs  # type: ignore[arg-type]
        self.shots = [f"s{i + 1:02d}" for i in range(n_shots)]
        self.reject = set(reject)
        self.generated: list[str] = []
        self.finished = False
        self.cut = False

    def call(self, name: str, arguments: dict) -> ToolResult:
        if name == "plan_shots":
            lines = [f"{i + 1:>3} {s} 0:{i * 8 // 60:02d}.000 +7.500s  the dog explores part {i + 1} of the town"
                     for i, s in enumerate(self.shots)]
            return ToolResult(ok=True, content=f"{len(self.shots)} shots, 600.000 s total:\n" + "\n".join(lines),
                              data={"shots": self.shots})
        if name in ("generate_clip", "regenerate_clip"):
            shot = arguments["shot_id"]
            self.generated.append(shot)
            if shot in self.reject:
                self.reject.discard(shot)
                log = "\n".join(f"[libx264 @ 0x55] frame I:{i} Avg QP:22.1 size: 4096" for i in range(120))
                return ToolResult(ok=False, content=f"{shot} rejected: frozen: 40% of frames do not change\n{log}")
            return ToolResult(ok=True, content=f"{shot} accepted after 1 attempt(s), cost $0.40")
        if name == "concat":
            self.cut = True
            return ToolResult(ok=True, content=f"cut ready: {len(self.shots)} clips, 600.000 s")
        if name == "finish":
            self.finished = True
            return ToolResult(ok=True, content="delivered out.mp4 (600.000s)")
        raise AssertionError(f"unexpected tool {name}")


def long_job_director(body):
    move = next_move(body, rewrite=True)
    thought = (f"Next: {move[0][0]} {move[0][1].get('shot_id', '')}. The last result is in, so I continue in plan "
               "order, rewriting the prompt in the generator's style and keeping the beat's subject and action.")
    return completion(thought, tool_calls=move)


def run_long_job(budget: int):
    job = SimulatedJob(80, reject={"s07", "s33", "s61"})
    with FakeOpenAI(responder=long_job_director) as server:
        report = run_agent(job, get_llm("openai:gpt-4.1-mini", base_url=server.base_url),
                           Brief(request="a 10 minute video of a dog exploring a town", duration=600),
                           limits=Limits(max_steps=400), context_budget_tokens=budget)
        sizes = [r.body and len(json.dumps(r.body["messages"])) for r in server.requests]
    return job, report, sizes


@pytest.mark.slow
def test_compaction_keeps_an_80_shot_job_under_the_budget():
    job, report, _ = run_long_job(24_000)
    assert report.finished and job.finished
    assert sorted(job.generated) == sorted(job.shots + ["s07", "s33", "s61"])  # nothing forgotten, nothing redone
    assert report.compactions >= 1
    assert 0 < report.max_context_tokens <= 24_000
    assert report.steps == 80 + 3 + 3  # plan, 80 generations, 3 regenerations, concat, finish


@pytest.mark.slow
def test_without_compaction_the_same_job_would_overflow_the_budget():
    _, report, _ = run_long_job(10_000_000)
    assert report.compactions == 0 and report.max_context_tokens > 24_000

