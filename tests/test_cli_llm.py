"""The language layer through the real command line: `python -m reelwright.cli make --llm openai:...`
in a subprocess against the scripted OpenAI-compatible fake on 127.0.0.1 — planning, the vision judge,
the tool-using agent, a missing key and a model that cannot plan."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest

from reelwright.media.probe import probe
from tests.fakes.openai_server import FakeOpenAI, Reply, completion, json_completion

RW = [sys.executable, "-m", "reelwright.cli"]
MODEL = "gpt-4.1-mini"  # not a text-only family in llm/openai_chat.py, so it takes images and the judge runs
SECRET = "sk-test-SECRET123"
WORD = "marmalade"  # in every scripted prompt and nowhere in the request: proves the plan is the model's
DOG_WALK = "a 12 second video of a dog going on a walk, sniffing around, getting a pup cup, meeting a friend"
CUP_PROMPT = (f"A {WORD} terrier sits outside a corner cafe and licks a paper pup cup of whipped cream, "
              "close-up at dog height, warm morning light.")  # longer than the 80 characters an event message keeps
FIX = "cream is on its nose"


def draft(beats_prompts: list[tuple[str, str]], seconds: float) -> dict[str, Any]:
    """A valid LLMPlanDraft (planning/llm_planner.py) for these beats, each `seconds` long."""
    return {"title": "Walkies", "subject": f"a {WORD} terrier", "setting": "a leafy street", "style": "cinematic",
            "cast": [{"id": "dog", "name": "Biscuit", "kind": "character", "description": f"a {WORD} terrier"}],
            "shots": [{"beat": b, "prompt": p, "camera": "medium tracking shot", "setting": "a leafy street",
                       "entities": ["dog"], "seconds": seconds} for b, p in beats_prompts],
            "overlays": []}


DOG_DRAFT = draft([("going on a walk", f"A {WORD} terrier trots down a leafy street."),
                   ("sniffing around", f"The {WORD} terrier sniffs a mossy lamppost."),
                   ("getting a pup cup", CUP_PROMPT),
                   ("meeting a friend", f"The {WORD} terrier greets a grey poodle.")], 3)


def score(value: float, fix: str = "") -> dict[str, str | float]:
    return {"score": value, "reason": "the cup is not in frame" if value < 0.6 else "fine", "fix": fix}


def judge_scores(adherence: float = 0.9, fix: str = "") -> dict[str, Any]:
    return {"prompt_adherence": score(adherence, fix), "logical_sense": score(0.9),
            "visual_artifacts": score(0.9), "continuity": score(0.9)}


class ScriptedModel:
    """Answers each request by what it asks for, as a model would: a plan for LLMPlanDraft, scores for
    JudgeScores (rejecting the first take of shots whose prompt holds `reject`), the next tool call
    when tools are offered. Requests arrive on several server threads at once."""

    def __init__(self, plan: dict[str, Any] | None = None, *, plan_reply: str | None = None,
                 reject: str | None = None):
        self.plan = plan
        self.plan_reply = plan_reply
        self.reject = reject
        self.rejected: set[str] = set()
        self.calls: dict[str, int] = {"plan": 0, "judge": 0, "agent": 0}
        self._lock = threading.Lock()

    def __call__(self, body: dict[str, Any]) -> dict[str, Any]:
        schema = (body.get("response_format") or {}).get("json_schema", {}).get("name")
        with self._lock:
            kind = {"LLMPlanDraft": "plan", "JudgeScores": "judge"}.get(schema, "agent" if body.get("tools") else "?")
            self.calls[kind] = self.calls.get(kind, 0) + 1
        if kind == "plan":
            return completion(self.plan_reply) if self.plan_reply is not None else json_completion(self.plan)
        if kind == "judge":
            question = body["messages"][-1]["content"][0]["text"]
            with self._lock:
                first_take = self.reject is not None and self.reject in question and self.reject not in self.rejected
                if first_take:
                    self.rejected.add(self.reject)
            return json_completion(judge_scores(0.3, FIX) if first_take else judge_scores())
        if kind == "agent":
            return completion(tool_calls=[next_tool(body)])
        raise AssertionError(f"unexpected request: {json.dumps(body)[:300]}")


def next_tool(body: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """A diligent director working only from the tool results it was shown: plan, generate each shot,
    regenerate rejects, concat, finish."""
    results = [m["content"] for m in body["messages"] if m["role"] == "tool"]
    plan = next((r for r in results if re.search(r"^\d+ shots, ", r)), None)
    if plan is None:
        return "plan_shots", {}
    for shot in re.findall(r"^\s*\d+ (s\d+) ", plan, re.M):
        outcomes = [r for r in results if r.startswith(f"{shot} ")]
        if not outcomes:
            return "generate_clip", {"shot_id": shot}
        if " rejected" in outcomes[-1]:
            return "regenerate_clip", {"shot_id": shot, "feedback": "show the dog clearly"}
    if not any(r.startswith("cut ready") for r in results):
        return "concat", {}
    return "finish", {}


@pytest.fixture
def server():
    with FakeOpenAI() as s:
        yield s


def rw(*args: str, key: str | None = SECRET, timeout: int = 240) -> subprocess.CompletedProcess:
    env = dict(os.environ)  # REELWRIGHT_HOME from conftest's autouse fixture, provider keys removed
    for var in ("REELWRIGHT_LLM_BASE_URL", "REELWRIGHT_RUNS_DIR", "REELWRIGHT_CONFIG", "REELWRIGHT_FALLBACK"):
        env.pop(var, None)
    if key is not None:
        env["OPENAI_API_KEY"] = key
    return subprocess.run([*RW, *args], capture_output=True, text=True, env=env, timeout=timeout,
                          stdin=subprocess.DEVNULL)


def make(server: FakeOpenAI, tmp_path: Path, request: str, *extra: str, **kw) -> subprocess.CompletedProcess:
    return rw("make", request, "--llm", f"openai:{MODEL}", "--llm-base-url", server.base_url, "--resolution", "360p",
              "-o", str(tmp_path / "out.mp4"), "--runs-dir", str(tmp_path / "runs"), *extra, **kw)


def run_folder(tmp_path: Path) -> Path:
    [run] = list((tmp_path / "runs").iterdir())
    return run


def trace(run: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (run / "trace.jsonl").read_text().splitlines()]


def assert_exact(path: Path, seconds: int) -> None:
    info = probe(path)
    assert info.frames == seconds * 24 and info.video_duration == Fraction(seconds), info


# ---------------------------------------------------------------- 1. plan and judge

def test_make_with_an_openai_model_plans_judges_and_records_every_call(server, tmp_path, _isolated_home):
    model = ScriptedModel(DOG_DRAFT)
    server.responder = model
    proc = make(server, tmp_path, DOG_WALK)
    assert proc.returncode == 0, proc.stderr
    assert_exact(tmp_path / "out.mp4", 12)
    assert model.calls == {"plan": 1, "judge": 4, "agent": 0}  # one plan, one judgement per clip
    assert all(r.headers["authorization"] == f"Bearer {SECRET}" for r in server.requests)

    run = run_folder(tmp_path)
    plan = json.loads((run / "plan.json").read_text())
    assert [s["beat"] for s in plan["shots"]] == [s["beat"] for s in DOG_DRAFT["shots"]]
    assert [s["prompt"] for s in plan["shots"]] == [s["prompt"] for s in DOG_DRAFT["shots"]]
    assert plan["title"] == "Walkies" and f"planned by openai:{MODEL} (1 call)" in plan["notes"]

    report = json.loads((run / "report.json").read_text())
    calls = report["llm_calls"]
    assert [c["purpose"] for c in calls].count("plan") == 1 and calls[0]["purpose"] == "plan"
    assert [c["purpose"] for c in calls].count("judge") == 4
    for c in calls:
        assert c["model"] == MODEL and c["ok"] and c["priced"]
        assert c["tokens_in"] > 0 and c["tokens_out"] > 0 and c["latency_s"] > 0 and c["cost_usd"] > 0
    judge_in = [c["tokens_in"] for c in calls if c["purpose"] == "judge"]
    assert min(judge_in) > 3 * 256  # three frames went out as images (the fake bills 256 tokens each)
    assert report["tokens"]["in"] == sum(c["tokens_in"] for c in calls) > 0
    assert report["costs"]["llm_usd"] == pytest.approx(sum(c["cost_usd"] for c in calls), abs=1e-4)
    assert all(s["verdicts"][0]["scores"]["prompt_adherence"] == 0.9 for s in report["shots_by_id"].values())

    leaks = [p for root in (tmp_path, Path(_isolated_home)) for p in root.rglob("*")
             if p.is_file() and SECRET.encode() in p.read_bytes()]
    assert leaks == []
    assert SECRET not in proc.stdout and SECRET not in proc.stderr


# ---------------------------------------------------------------- 2. the judge rejects a take

def test_a_clip_the_judge_rejects_is_regenerated_once_with_the_judges_fix(server, tmp_path):
    model = ScriptedModel(DOG_DRAFT, reject=CUP_PROMPT)
    server.responder = model
    proc = make(server, tmp_path, DOG_WALK)
    assert proc.returncode == 0, proc.stderr
    assert_exact(tmp_path / "out.mp4", 12)
    assert model.calls["judge"] == 5 and model.rejected == {CUP_PROMPT}

    run = run_folder(tmp_path)
    report = json.loads((run / "report.json").read_text())
    attempts = {sid: s["attempts"] for sid, s in report["shots_by_id"].items()}
    assert attempts == {"s01": 1, "s02": 1, "s03": 2, "s04": 1}
    first, second = report["shots_by_id"]["s03"]["verdicts"]
    assert not first["passed"] and first["scores"]["prompt_adherence"] == 0.3
    assert first["reasons"] == [f"prompt adherence 0.30: {FIX}"]
    assert second["passed"]

    revised = f"{CUP_PROMPT} Make sure {FIX}."
    starts = [e for e in trace(run) if e["shot"] == "s03" and e["status"] == "start"]
    assert [(e["step"], e["data"]["attempt"]) for e in starts] == [("generate", 1), ("regenerate", 2)]
    assert starts[0]["data"]["prompt"].startswith(CUP_PROMPT) and FIX not in starts[0]["data"]["prompt"]
    assert starts[1]["data"]["prompt"].startswith(revised)  # what the generator got (plus any reference wording)
    assert f"• Regenerating [s03] {revised[:80]}" in proc.stderr.splitlines()  # one line, not folded


# ---------------------------------------------------------------- 3. the agent drives the tools

def test_agent_make_drives_the_tools_to_an_exact_video(server, tmp_path):
    model = ScriptedModel(draft([("sniffing around", f"The {WORD} terrier sniffs a mossy lamppost."),
                                 ("getting a pup cup", CUP_PROMPT)], 3))
    server.responder = model
    proc = make(server, tmp_path, "a 6 second video of a dog sniffing around and getting a pup cup", "--agent")
    assert proc.returncode == 0, proc.stderr
    assert_exact(tmp_path / "out.mp4", 6)

    report = json.loads((run_folder(tmp_path) / "report.json").read_text())
    agent = report["agent"]
    assert agent["policy"] == "llm" and agent["model"] == f"openai:{MODEL}"
    assert agent["finished"] and agent["stop_reason"] == "finished"
    assert agent["tool_calls"] == 5 and agent["tool_errors"] == 0  # plan, 2 clips, concat, finish
    assert model.calls == {"plan": 1, "judge": 2, "agent": 5}
    assert agent["llm_calls"] == 8 == len(report["llm_calls"])  # its own turns plus the plan and judge calls
    assert agent["tokens_in"] == report["tokens"]["in"] > 0 and agent["tokens_out"] > 0
    assert [c["purpose"] for c in report["llm_calls"]].count("agent") == 5
    last = next(b for b in reversed(server.bodies) if b.get("tools"))
    tools_used = [tc["function"]["name"] for m in last["messages"] if m["role"] == "assistant"
                  for tc in m.get("tool_calls") or []]
    results = [m["content"] for m in last["messages"] if m["role"] == "tool"]
    assert tools_used == ["plan_shots", "generate_clip", "generate_clip", "concat"]  # then finish
    assert results[1:] == ["s01 accepted after 1 attempt(s), cost $0.00", "s02 accepted after 1 attempt(s), cost $0.00",
                           "cut ready: 2 clips, 6.000 s"]


# ---------------------------------------------------------------- 4. no key

def test_openai_without_a_key_is_one_line_naming_the_variable(tmp_path, _isolated_home):
    proc = rw("make", DOG_WALK, "--llm", f"openai:{MODEL}", "-o", str(tmp_path / "out.mp4"),
              "--runs-dir", str(tmp_path / "runs"), key=None)
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "OPENAI_API_KEY" in lines[0] and lines[0].startswith("error:"), proc.stderr
    assert list(tmp_path.iterdir()) == [] and list(Path(_isolated_home).iterdir()) == []


# ---------------------------------------------------------------- 5. a model that cannot plan

GARBAGE = "Sure! Here is a lovely plan for your dog video: first the walk, then the cup."
SHORT = "a 4 second video of a dog sniffing around and getting a pup cup"


def test_a_model_that_cannot_plan_stops_with_one_line_and_exit_2(server, tmp_path):
    """Under --fallback none, a UserError (exit 2): the request and key are fine, but the person must act — pick
    another model or let the built-in planner take over, which the line says. Nothing was generated or spent."""
    model = ScriptedModel(plan_reply=GARBAGE)
    server.responder = model
    proc = make(server, tmp_path, SHORT, "--no-fallback")
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr
    errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1 and proc.stderr.rstrip().endswith(errors[0]), proc.stderr
    assert f"openai:{MODEL} did not produce a valid plan after 3 tries" in errors[0]
    assert "the built-in planner takes over" in errors[0]
    assert model.calls == {"plan": 3, "judge": 0, "agent": 0}
    assert not (tmp_path / "out.mp4").exists()
    run = run_folder(tmp_path)  # kept, with the failure and the three calls on record
    report = json.loads((run / "report.json").read_text())
    assert report["status"] == "failed" and [c["purpose"] for c in report["llm_calls"]] == ["plan"] * 3
    assert not list(run.rglob("*.mp4")) and report["costs"]["generation_usd"] == 0


def test_by_default_the_builtin_planner_finishes_the_video_and_says_so(server, tmp_path):
    model = ScriptedModel(plan_reply=GARBAGE)
    server.responder = model
    proc = make(server, tmp_path, SHORT)
    assert proc.returncode == 0, proc.stderr
    assert_exact(tmp_path / "out.mp4", 4)
    [warning] = [ln for ln in proc.stderr.splitlines() if "did not produce a valid plan" in ln]
    assert warning.startswith("! ") and f"openai:{MODEL}" in warning
    assert warning.endswith("continuing with the built-in planner")
    plan = json.loads((run_folder(tmp_path) / "plan.json").read_text())
    assert WORD not in json.dumps(plan["shots"])
    assert any("planned by the built-in planner" in n for n in plan["notes"])
    report = json.loads((run_folder(tmp_path) / "report.json").read_text())
    [why] = report["warnings"]
    assert f"openai:{MODEL} did not produce a valid plan" in why and "built-in planner" in why
    assert model.calls["plan"] == 3 and model.calls["judge"] == len(plan["shots"])  # the judge still runs


def test_a_server_error_is_printed_verbatim_on_one_line(server, tmp_path):
    """Server text reaches the error line; rich must not read "[/INST]" as markup (it raised MarkupError)."""
    server.push(Reply({"error": {"message": "prompt contains the reserved token [/INST] [bold]"}}, status=400))
    proc = make(server, tmp_path, SHORT, "--no-fallback")
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr
    [line] = [ln for ln in proc.stderr.splitlines() if ln.startswith("error:")]
    assert "HTTP 400: prompt contains the reserved token [/INST] [bold]" in line
    assert len(server.requests) == 1  # a 400 is not retried


# ---------------------------------------------------------------- the schema-driven fake (issue 8)

def test_make_against_a_model_that_only_fills_the_schema_it_was_sent(tmp_path):
    """The issue's reproduction: a server answering every request with a JSON instance of the schema sent
    (what strict structured output guarantees). With the title-dropping converter this stopped after three
    tries on "title: Field required". Now the first draft parses and no repair call is needed: random words carry
    none of the person's beats, and the harness owns that fact, restoring every beat in order around what the
    model wrote (issue 8 item 4). A text-only model name keeps the judge out: random scores would reject every
    take (the judge's own schema-driven test is in test_llm_fakes.py)."""
    with FakeOpenAI(schema_driven=True, seed=3) as server:
        proc = rw("make", DOG_WALK, "--llm", "openai:gpt-3.5-turbo", "--llm-base-url", server.base_url,
                  "--resolution", "360p", "-o", str(tmp_path / "out.mp4"), "--runs-dir", str(tmp_path / "runs"),
                  "--fallback", "builtin")
        bodies = server.bodies
    assert proc.returncode == 0, proc.stderr
    assert_exact(tmp_path / "out.mp4", 12)
    assert "Field required" not in proc.stderr and "the harness made" in proc.stderr
    run = run_folder(tmp_path)
    plan = json.loads((run / "plan.json").read_text())
    sent = bodies[0]["response_format"]["json_schema"]
    assert sent["name"] == "LLMPlanDraft" and "title" in sent["schema"]["required"]
    report = json.loads((run / "report.json").read_text())
    assert [c["purpose"] for c in report["llm_calls"]] == ["plan"]  # one draft, valid: no repair, no fallback
    beats = [s["beat"] for s in plan["shots"]]
    named = ["going on a walk", "sniffing around", "getting a pup cup", "meeting a friend"]
    positions = [next(i for i, b in enumerate(beats) if want in b) for want in named]
    assert positions == sorted(positions), beats
