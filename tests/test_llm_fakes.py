"""Every structured-output path against the schema-driven fakes: the OpenAI and Anthropic fakes answer
with a JSON instance of the schema the client *sent* (or a call to a tool with arguments from that tool's
own schema) and refuse the schemas the real APIs refuse. A client that drops a field its validator needs
(the `title` bug of issue 8) fails here, where a scripted reply written to match the client passes."""

from __future__ import annotations

import json
from fractions import Fraction
from typing import Any

import anthropic
import openai
import pytest
from jsonschema import Draft202012Validator
from pydantic import BaseModel

from reelwright.brief import Brief
from reelwright.critique.judge import JudgeScores, VisionJudge
from reelwright.editing.llm_edit import EditOps, edit_ops_with_llm
from reelwright.errors import AgentError, BriefError, LLMError
from reelwright.generators.animatic import AnimaticGenerator
from reelwright.llm import get_llm
from reelwright.llm.base import strict_schema
from reelwright.planning.builtin import build_plan
from reelwright.planning.llm_planner import LLMPlanDraft, plan_with_llm
from reelwright.planning.rewrite import RewrittenPrompt, beat_survives, rewrite_prompts
from reelwright import tools as toolmod
from tests.conftest import make_test_clip
from tests.fakes.anthropic_server import FakeAnthropic
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.schema_fake import anthropic_strict_problem, instance, openai_strict_problem

DOG_WALK = "a 12 second video of a dog going on a walk, sniffing around, getting a pup cup, meeting a friend"
TOOL_ARGS = [m for n, m in vars(toolmod).items() if n.endswith("Args") and n != "_Args"]
SEEDS = range(8)


@pytest.fixture(params=["openai", "anthropic"])
def provider(request, monkeypatch):
    """(server, llm) for each provider, the server in schema-driven mode."""
    if request.param == "openai":
        server = FakeOpenAI(schema_driven=True, seed=7).start()
        llm = get_llm("openai:gpt-4.1-mini", base_url=server.base_url)
    else:
        monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test")
        server = FakeAnthropic(schema_driven=True, seed=7).start()
        llm = get_llm("anthropic:claude-sonnet-4-5", base_url=server.base_url)
    yield server, llm
    server.stop()


def sent_schema(body: dict[str, Any]) -> dict[str, Any]:
    if "response_format" in body:
        return body["response_format"]["json_schema"]["schema"]
    return body["output_config"]["format"]["schema"]


# ------------------------------------------------------------------------------------- the generator
NASTY = {
    "type": "object",
    "$defs": {"Cue": {"type": "object", "properties": {"kind": {"const": "cue"}, "at": {"type": "number",
                                                                                        "minimum": 1, "maximum": 2}},
                      "required": ["kind", "at"], "additionalProperties": False}},
    "properties": {
        "title": {"type": "string", "minLength": 3},
        "mode": {"enum": ["a", "b", "c"]},
        "cues": {"type": "array", "items": {"$ref": "#/$defs/Cue"}, "minItems": 2, "maxItems": 3},
        "maybe": {"anyOf": [{"type": "integer", "minimum": 5, "maximum": 6}, {"type": "null"}]},
        "nullable": {"type": ["string", "null"]},
        "both": {"allOf": [{"$ref": "#/$defs/Cue"}]},
    },
    "required": ["title", "mode", "cues", "maybe", "nullable", "both"],
    "additionalProperties": False,
}


@pytest.mark.parametrize("seed", range(20))
def test_instances_are_valid_against_the_schema_they_came_from(seed):
    value = instance(NASTY, seed)
    Draft202012Validator(NASTY).validate(value)
    assert set(value) == set(NASTY["required"])
    assert instance(NASTY, seed) == value  # deterministic per seed


def test_instances_vary_with_the_seed_and_cover_both_branches_of_a_nullable():
    values = [instance(NASTY, s) for s in range(40)]
    assert len({json.dumps(v, sort_keys=True) for v in values}) > 30
    assert {v["maybe"] is None for v in values} == {True, False}
    assert {v["mode"] for v in values} == {"a", "b", "c"}


# ------------------------------------------------------------------------------------- refusals
def test_openai_refuses_what_strict_mode_cannot_enforce():
    assert openai_strict_problem(strict_schema(NASTY)) is None
    open_obj = {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]}
    assert "additionalProperties" in openai_strict_problem(open_obj)
    optional = {**open_obj, "additionalProperties": False, "required": []}
    assert "Missing 'a'" in openai_strict_problem(optional)
    with_default = {**open_obj, "additionalProperties": False,
                    "properties": {"a": {"type": "string", "default": "x"}}}
    assert "'default' is not permitted" in openai_strict_problem(with_default)
    assert "not a valid format" in openai_strict_problem(
        {**open_obj, "additionalProperties": False, "properties": {"a": {"type": "string", "format": "fraction"}}})
    assert "invalid JSON schema" in openai_strict_problem({"type": "strng"})


def test_anthropic_refuses_open_objects_and_unsupported_keywords():
    # The SDK's transform cannot take type lists (`["string", "null"]`: AssertionError); pydantic writes anyOf.
    no_lists = {**NASTY, "properties": {k: v for k, v in NASTY["properties"].items() if k != "nullable"},
                "required": [r for r in NASTY["required"] if r != "nullable"]}
    assert anthropic_strict_problem(anthropic.transform_schema(no_lists)) is None
    assert "additionalProperties" in anthropic_strict_problem({"type": "object", "properties": {}})
    assert "'minimum'" in anthropic_strict_problem(
        {"type": "object", "additionalProperties": False, "properties": {"n": {"type": "number", "minimum": 1}}})


def test_the_openai_fake_answers_a_refused_schema_with_the_apis_400_through_the_sdk():
    with FakeOpenAI(schema_driven=True) as server:
        client = openai.OpenAI(api_key="sk-test", base_url=server.base_url, max_retries=0)
        raw = EditOps.model_json_schema()  # defaults, open objects, format "fraction": not strict-ready
        with pytest.raises(openai.BadRequestError) as err:
            client.chat.completions.create(model="gpt-4.1-mini", messages=[{"role": "user", "content": "x"}],
                                           response_format={"type": "json_schema", "json_schema": {
                                               "name": "EditOps", "schema": raw, "strict": True}})
        assert err.value.status_code == 400
        assert err.value.body["param"] == "response_format"
        assert err.value.body["message"].startswith("Invalid schema for response_format 'EditOps': In context=")
        with pytest.raises(openai.BadRequestError) as err:
            client.chat.completions.create(model="gpt-4.1-mini", messages=[{"role": "user", "content": "x"}],
                                           tools=[{"type": "function", "function": {
                                               "name": "t", "parameters": {"type": "object", "properties": {
                                                   "a": {"type": "nope"}}}}}])
        assert err.value.body["code"] == "invalid_function_parameters"


def test_the_anthropic_fake_refuses_an_open_output_schema_through_the_sdk():
    with FakeAnthropic(schema_driven=True) as server:
        client = anthropic.Anthropic(api_key="sk-ant-test", base_url=server.base_url, max_retries=0)
        with pytest.raises(anthropic.BadRequestError) as err:
            client.messages.create(model="claude-sonnet-4-5", max_tokens=100,
                                   messages=[{"role": "user", "content": "x"}],
                                   output_config={"format": {"type": "json_schema",
                                                             "schema": {"type": "object", "properties": {}}}})
        assert err.value.status_code == 400 and err.value.body["error"]["type"] == "invalid_request_error"


# ------------------------------------------------------------------------------------- the contract
def test_the_title_bug_is_caught_by_the_schema_driven_fake():
    """The converter issue 8 found: every key named `title` removed, the property too. The fake, answering
    from that schema, leaves `title` out, and the planner's validator refuses the reply."""

    def old_strict(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: old_strict(v) for k, v in node.items() if k not in ("title", "default")}
        return [old_strict(v) for v in node] if isinstance(node, list) else node

    broken = strict_schema(old_strict(LLMPlanDraft.model_json_schema()))
    with pytest.raises(Exception, match="title"):
        LLMPlanDraft.model_validate(instance(broken, 0))
    fixed = strict_schema(LLMPlanDraft.model_json_schema())
    assert LLMPlanDraft.model_validate(instance(fixed, 0)).title


@pytest.mark.parametrize("model", [LLMPlanDraft, RewrittenPrompt, JudgeScores], ids=lambda m: m.__name__)
def test_every_reply_to_the_schema_the_client_sends_validates(provider, model):
    server, llm = provider
    for seed in SEEDS:
        reply = llm.complete(f"answer {seed}", response_format=model, purpose="contract", max_tokens=2000)
        model.model_validate_json(reply.json_text())
    assert all(b.get("response_format", {}).get("json_schema", {}).get("strict", True) for b in server.bodies)


def test_every_edit_ops_reply_validates(provider):
    server, llm = provider
    for seed in SEEDS:
        EditOps.model_validate_json(llm.complete(f"edit {seed}", response_format=EditOps, purpose="edit").text)


def test_every_tool_call_the_fake_makes_validates_against_the_tools_own_model(provider):
    server, llm = provider
    specs = [{"name": m.__name__, "description": "", "parameters": m.model_json_schema()} for m in TOOL_ARGS]
    by_name = {m.__name__: m for m in TOOL_ARGS}
    seen = set()
    for seed in range(30):
        reply = llm.complete(f"call {seed}", tools=specs, purpose="agent", max_tokens=300)
        for call in reply.tool_calls:
            by_name[call.name].model_validate(call.arguments)  # extra="forbid": a stray key fails too
            seen.add(call.name)
    assert len(seen) >= 5


# ------------------------------------------------------------------------------------- each path
def test_the_planner_delivers_an_exact_plan_from_schema_instances(provider):
    server, llm = provider
    brief = Brief(request=DOG_WALK, resolution="360p")
    plan = plan_with_llm(brief, AnimaticGenerator().capabilities(), llm, fallback="builtin")
    assert plan.total_frames == plan.target_frames == 12 * plan.fps
    assert sum(s.frames for s in plan.shots) == plan.target_frames
    assert server.requests, "the model was asked"
    draft = LLMPlanDraft.model_validate_json(
        json.dumps(instance(sent_schema(server.bodies[0]), server.seed * 100_003 + 1)))
    assert draft.title  # the field the old converter dropped is in what the fake wrote


def test_the_rewriter_keeps_every_beat_against_schema_instances(provider):
    server, llm = provider
    brief = Brief(request=DOG_WALK, resolution="360p")
    gen = AnimaticGenerator()
    plan = build_plan(brief, gen.capabilities())
    rewritten = rewrite_prompts(plan, llm, generator="animatic", concurrency=2)
    assert len(server.requests) >= len(plan.shots)
    named = 0
    for shot in rewritten.shots:
        assert shot.prompt
        if shot.purpose in ("", "beat"):  # the person's beats (structural shots carry none of their words)
            named += 1
            assert beat_survives(shot.beat, shot.prompt), (shot.beat, shot.prompt)  # random words: builtin kept
    assert named >= 4
    assert [s.frames for s in rewritten.shots] == [s.frames for s in plan.shots]


def test_the_judge_scores_from_schema_instances(provider, tmp_path):
    server, llm = provider
    clip = make_test_clip(tmp_path / "clip.mp4", seconds=1, width=160, height=90)
    verdict = VisionJudge(llm, frames=2).judge_clip(clip, None, {"prompt": "a test pattern", "beat": "bars"})
    assert set(verdict.scores) == {"prompt_adherence", "logical_sense", "visual_artifacts", "continuity"}
    assert all(0 <= v <= 1 for v in verdict.scores.values())
    assert not any("no verdict" in c.detail for c in verdict.checks)  # the reply parsed: a real verdict
    written = JudgeScores.model_validate_json(json.dumps(instance(sent_schema(server.bodies[0]),
                                                                  server.seed * 100_003 + 1)))
    assert verdict.scores["prompt_adherence"] == round(min(1.0, max(0.0, written.prompt_adherence.score)), 3)


def test_the_edit_parser_ends_cleanly_on_schema_instances(provider):
    server, llm = provider
    try:
        ops = edit_ops_with_llm("add a title 'Walkies' at the start", llm)
    except BriefError as exc:  # the Fraction gap above: a clean, named refusal, not a crash
        assert "could not turn" in str(exc)
    else:
        assert ops and all(op.kind for op in ops)
    assert 1 <= len(server.requests) <= 2


def test_the_agent_ends_cleanly_when_the_model_calls_random_tools(provider, tmp_path):
    from tests.test_agent import tiny_job

    from reelwright.agent import run_agent
    from reelwright.director import Limits

    server, llm = provider
    toolbox, brief, bus, _ = tiny_job(tmp_path, limits=Limits(max_steps=12))
    try:
        report = run_agent(toolbox, llm, brief, limits=toolbox.limits, bus=bus)
    except AgentError as exc:
        pytest.fail(f"the agent raised instead of stopping cleanly: {exc}")
    assert report.finished or report.stop_reason
    assert report.tool_calls >= 1
    names = set()
    for body in server.bodies:
        names |= {t.get("name") or t["function"]["name"] for t in body.get("tools", [])}
    assert "finish" in names
