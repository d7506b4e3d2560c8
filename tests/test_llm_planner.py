"""Planning with a chat model on a fake server: structured output, repair of bad drafts, fallback to the
built-in planner, and the harness enforcing exact length, allowed durations and reference caps."""

from __future__ import annotations

import json
from fractions import Fraction

import pytest

from reelwright.brief import Brief, Reference
from reelwright.errors import BriefError
from reelwright.events import EventBus
from reelwright.generators.animatic import AnimaticGenerator
from reelwright.generators.base import Capabilities
from reelwright.llm import get_llm
from reelwright.planning.builtin import build_plan
from reelwright.planning.llm_planner import plan_with_llm
from reelwright.planning.rewrite import beat_survives
from tests.fakes.anthropic_server import FakeAnthropic, json_message
from tests.fakes.openai_server import FakeOpenAI, Reply, completion, json_completion

DOG_WALK = "a 1 min video of a dog going on a walk, sniffing around, getting a pup cup, meeting a friend"
BEATS = ["going on a walk", "sniffing around", "getting a pup cup", "meeting a friend"]
VEO = Capabilities(name="veo", model="veo-3.1-generate-preview", durations=[4, 6, 8], aspects=["16:9", "9:16"],
                   resolutions=["720p", "1080p"], fps=[24], price_per_second=0.4)


def dog_draft(seconds=(15, 15, 15, 15), beats=BEATS, **extra):
    shots = [{"beat": b, "prompt": f"A scruffy terrier {b} on a leafy street, golden light, tracking shot.",
              "camera": "medium tracking shot", "setting": "a leafy street", "entities": ["dog"], "seconds": s}
             for b, s in zip(beats, seconds)]
    draft = {"title": "Walkies", "subject": "a scruffy terrier", "setting": "a leafy street", "style": "cinematic",
             "cast": [{"id": "dog", "name": "Biscuit", "kind": "character", "description": "a scruffy terrier"}],
             "shots": shots, "overlays": []}
    draft.update(extra)
    return draft


@pytest.fixture
def server():
    with FakeOpenAI() as s:
        yield s


@pytest.fixture
def llm(server):
    return get_llm("openai:gpt-4.1-mini", base_url=server.base_url)


def animatic():
    return AnimaticGenerator().capabilities()


def test_a_good_plan_keeps_the_models_storyboard_at_the_exact_length(server, llm):
    server.push(json_completion(dog_draft(seconds=(12, 16, 16, 16))))
    plan = plan_with_llm(Brief(request=DOG_WALK), animatic(), llm)
    assert plan.total_frames == plan.target_frames == 60 * 24
    assert [s.beat for s in plan.shots] == BEATS
    assert [s.frames for s in plan.shots] == [288, 384, 384, 384]  # the model's 12/16/16/16 s, exactly
    assert plan.title == "Walkies" and plan.cast.entities[0].name == "Biscuit"
    assert plan.shots[0].entities == ["dog"] and plan.cast.entities[0].appearances[0].shot == "s01"
    assert "planned by openai:gpt-4.1-mini (1 call)" in plan.notes
    sent = server.bodies[0]
    assert sent["response_format"]["json_schema"]["name"] == "LLMPlanDraft"
    assert "Generic prompt style" in sent["messages"][0]["content"]  # the generator's style guide
    assert '"getting a pup cup"' in sent["messages"][1]["content"]


def test_malformed_json_is_sent_back_and_repaired(server, llm):
    server.push(completion(json.dumps(dog_draft())[:-40]), json_completion(dog_draft()))
    bus, events = EventBus(), []
    bus.subscribe(events.append)
    plan = plan_with_llm(Brief(request=DOG_WALK), animatic(), llm, bus=bus)
    assert len(server.requests) == 2
    repair = server.bodies[1]["messages"][-1]["content"]
    assert "not valid JSON" in repair and "Return the whole corrected JSON object" in repair
    assert server.bodies[1]["messages"][-2]["role"] == "assistant"
    assert plan.total_frames == 1440 and "planned by openai:gpt-4.1-mini (2 calls)" in plan.notes
    assert any(e.step == "plan" and e.status == "retry" for e in events)


def test_schema_errors_are_named_in_the_repair_request(server, llm):
    bad = dog_draft()
    del bad["shots"][1]["seconds"]
    server.push(json_completion(bad), json_completion(dog_draft()))
    plan_with_llm(Brief(request=DOG_WALK), animatic(), llm)
    assert "shots.1.seconds: Field required" in server.bodies[1]["messages"][-1]["content"]


def test_durations_the_generator_cannot_make_are_fixed_by_the_harness(server, llm):
    server.push(json_completion(dog_draft(seconds=(3, 13, 20, 9.5))))  # 45.5 s, none a Veo length
    plan = plan_with_llm(Brief(request=DOG_WALK, generator="veo"), VEO, llm)
    assert plan.total_frames == 1440 and plan.duration == Fraction(60)
    assert all(s.gen_duration in (4, 6, 8) and s.frames <= s.gen_duration * 24 for s in plan.shots)
    assert {s.beat for s in plan.shots} == set(BEATS)
    beats_in_order = [s.beat for s in plan.shots]
    assert sorted(set(beats_in_order), key=beats_in_order.index) == BEATS
    assert beats_in_order.count("sniffing around") > beats_in_order.count("going on a walk")  # weights kept
    assert any("were fitted to 60 s" in n for n in plan.notes)
    assert all(s.negative_prompt for s in plan.shots)  # Veo takes a negative prompt


def test_a_missing_beat_is_restored_by_the_harness_without_another_call(server, llm):
    server.push(json_completion(dog_draft(seconds=(20, 20, 20), beats=[BEATS[0], BEATS[1], BEATS[3]])))
    plan = plan_with_llm(Brief(request=DOG_WALK), animatic(), llm)
    assert len(server.requests) == 1
    assert list(dict.fromkeys(s.beat for s in plan.shots)) == BEATS
    assert any('"getting a pup cup" was missing' in n for n in plan.notes)


def test_a_model_that_never_repairs_stops_with_a_clear_error_under_no_fallback(server, llm):
    server.push(*[completion("Sure! Here is a lovely plan for your dog video.")] * 3)
    with pytest.raises(BriefError, match=r"did not produce a valid plan after 3 tries: the reply is not valid JSON"):
        plan_with_llm(Brief(request=DOG_WALK), animatic(), llm, max_repairs=2, no_fallback=True)
    assert len(server.requests) == 3


def test_by_default_the_builtin_planner_takes_over_with_a_visible_warning(server, llm):
    server.push(*[completion("not json")] * 2)
    bus, events = EventBus(), []
    bus.subscribe(events.append)
    brief = Brief(request=DOG_WALK)
    plan = plan_with_llm(brief, animatic(), llm, bus=bus, max_repairs=1)
    assert len(server.requests) == 2  # one repair, then the fallback
    builtin = build_plan(brief, animatic())
    assert [s.prompt for s in plan.shots] == [s.prompt for s in builtin.shots]
    warning = next(e for e in events if e.status == "warning")
    assert "continuing with the built-in planner" in warning.message
    [why] = plan.warnings
    assert "did not produce a valid plan (the reply is not valid JSON" in why and "built-in planner" in why


def test_an_unreachable_model_falls_back_too(server, llm):
    server.push(Reply({"error": {"message": "model not found"}}, status=404))
    plan = plan_with_llm(Brief(request=DOG_WALK), animatic(), llm, fallback="builtin")
    assert plan.total_frames == 1440 and any("HTTP 404" in n for n in plan.notes)


def test_overlays_are_clamped_to_the_video(server, llm):
    overlays = [{"text": "Good boy!", "start_s": 57.5, "duration_s": 10, "position": "bottom"},
                {"text": "After the end", "start_s": 75, "duration_s": 2, "position": "center"}]
    server.push(json_completion(dog_draft(overlays=overlays)))
    plan = plan_with_llm(Brief(request=DOG_WALK), animatic(), llm)
    assert [(o.text, o.start, o.duration, o.position) for o in plan.overlays] == [
        ("Good boy!", Fraction(115, 2), Fraction(5, 2), "bottom")]


def test_reference_images_cap_clip_length_and_keep_their_entity(server, llm, tmp_path):
    png = tmp_path / "biscuit.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\n")
    xai = Capabilities(name="xai", model="grok-imagine-video", min_duration=1, max_duration=15, duration_step=1,
                       reference_images=True, max_references=7, audio=True)
    brief = Brief(request="a 30 second video of Biscuit the dog sniffing around and getting a pup cup",
                  generator="xai", references=[Reference(path=png, name="Biscuit")])
    server.push(json_completion(dog_draft(seconds=(15, 15), beats=["sniffing around", "getting a pup cup"])))
    plan = plan_with_llm(brief, xai, llm)
    assert plan.total_frames == 30 * 24 and all(s.gen_duration <= 10 for s in plan.shots)
    [biscuit] = plan.cast.entities  # the model's "Biscuit" is the entity the person gave an image of
    assert biscuit.references[0].path == png and biscuit.description == "a scruffy terrier"
    assert all(biscuit.id in s.entities and s.source == "reference" for s in plan.shots)


def test_planning_over_anthropic(monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test")
    with FakeAnthropic() as server:
        server.push(json_message(dog_draft()))
        plan = plan_with_llm(Brief(request=DOG_WALK), animatic(),
                             get_llm("anthropic:claude-sonnet-4-6", base_url=server.base_url))
        fmt = server.bodies[0]["output_config"]["format"]
    assert fmt["schema"]["properties"]["shots"]["type"] == "array"
    assert plan.total_frames == 1440 and len(plan.shots) == 4


def test_a_cast_id_longer_than_a_file_name_may_be_is_shortened_not_a_crash(server, llm):
    # SmolLM2 once sent a cast id of more than 64 digits: the plan's safe-id rule refused it and make crashed.
    long_id = "1" * 200
    draft = dog_draft(cast=[{"id": long_id, "name": "Biscuit", "kind": "character", "description": "a terrier"},
                            {"id": long_id + "x", "name": "Pal", "kind": "character", "description": "a poodle"}])
    for shot in draft["shots"]:
        shot["entities"] = [long_id]
    server.push(json_completion(draft))
    plan = plan_with_llm(Brief(request=DOG_WALK), animatic(), llm)
    ids = [e.id for e in plan.cast.entities]
    assert ids == ["1" * 56, "1" * 56 + "-2"]  # the first 56 characters, then the usual suffix for a clash
    assert plan.shots[0].entities == ["1" * 56]  # the shots still name their entity
    assert plan.total_frames == plan.target_frames
