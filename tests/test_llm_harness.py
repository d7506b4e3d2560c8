"""The harness owns the facts: adversarial drafts a schema-valid model could write (the kind a small local model
writes: a 2,000 s shot, repeated prompts, too few shots, unknown cast ids, overlays past the end, parameters in
the prose) still give a plan of the exact length with every named beat in order. Served by the fake
OpenAI-compatible server (scripted drafts: each is one specific scenario) through the real client."""

from __future__ import annotations

import re
from fractions import Fraction

import pytest

from reelwright.brief import Brief
from reelwright.generators.animatic import AnimaticGenerator
from reelwright.generators.base import Capabilities
from reelwright.llm import get_llm
from reelwright.plan import Plan
from reelwright.planning.llm_planner import plan_with_llm
from reelwright.planning.rewrite import beat_survives
from tests.fakes.openai_server import FakeOpenAI, json_completion

DOG_WALK = "a 1 min video of a dog going on a walk, sniffing around, getting a pup cup, meeting a friend"
BEATS = ["going on a walk", "sniffing around", "getting a pup cup", "meeting a friend"]
VEO = Capabilities(name="veo", model="veo-3.1-generate-preview", durations=[4, 6, 8], aspects=["16:9", "9:16"],
                   resolutions=["720p", "1080p"], fps=[24], price_per_second=0.4)
ANIMATIC = AnimaticGenerator().capabilities()
PARAMETERS = re.compile(r"(?i)\b\d+(?:\.\d+)?[\s-]*(?:seconds?|secs?|fps)\b|\b(?:16:9|9:16|1:1)\b|\b\d{3,4}p\b")


def shot(beat, prompt=None, seconds=15.0, entities=("dog",)):
    return {"beat": beat, "prompt": prompt if prompt is not None else f"A scruffy terrier {beat} on a leafy street.",
            "camera": "medium tracking shot", "setting": "a leafy street", "entities": list(entities), "seconds": seconds}


def draft(shots, overlays=(), cast=None):
    return {"title": "Walkies", "subject": "a scruffy terrier", "setting": "a leafy street", "style": "cinematic",
            "cast": cast if cast is not None else [{"id": "dog", "name": "Biscuit", "kind": "character",
                                                     "description": "a scruffy terrier"}],
            "shots": shots, "overlays": list(overlays)}


@pytest.fixture
def server():
    with FakeOpenAI() as s:
        yield s


def plan_from(server, value, caps=ANIMATIC, request=DOG_WALK) -> Plan:
    server.push(json_completion(value))
    llm = get_llm("openai:gpt-4.1-mini", base_url=server.base_url)
    plan = plan_with_llm(Brief(request=request, generator=caps.name), caps, llm, no_fallback=True)
    assert len(server.requests) == 1  # the harness fixed it: no repair round, no fallback
    return plan


def assert_facts(plan: Plan, caps: Capabilities, beats=BEATS):
    """What the harness promises whatever the model wrote."""
    assert plan.total_frames == plan.target_frames
    order = list(dict.fromkeys(s.beat for s in plan.shots))
    assert [b for b in order if b in beats] == beats
    for s in plan.shots:
        if s.kind == "card":
            continue
        assert s.gen_duration is not None and s.frames <= s.gen_duration * plan.fps
        if caps.durations:
            assert s.gen_duration in caps.durations
        else:
            assert caps.min_duration <= s.gen_duration <= caps.max_duration
        assert all(plan.cast.get(e) is not None for e in s.entities)
        assert not PARAMETERS.search(s.prompt), s.prompt
    for o in plan.overlays:
        assert 0 <= o.start < o.end <= plan.duration
    prompts = [s.prompt for s in plan.shots]
    assert len(set(prompts)) == len(prompts), "a repeated prompt makes the same clip twice"


@pytest.mark.parametrize("caps", [ANIMATIC, VEO], ids=lambda c: c.name)
def test_a_shot_of_two_thousand_seconds_does_not_swallow_the_video(server, caps):
    plan = plan_from(server, draft([shot(b, seconds=s) for b, s in zip(BEATS, (2000, 15, 15, 15))]), caps)
    assert_facts(plan, caps)
    frames = {b: sum(s.frames for s in plan.shots if s.beat == b) for b in BEATS}
    assert max(frames.values()) <= 3 * min(frames.values()), frames
    assert any("2000 s shot" in n for n in plan.notes)


def test_repeated_prompts_become_one_per_beat(server):
    same = "A dog walks down a street, cinematic."
    plan = plan_from(server, draft([shot(b, prompt=same) for b in BEATS]))
    assert_facts(plan, ANIMATIC)
    assert all(beat_survives(s.beat, s.prompt) for s in plan.shots)


@pytest.mark.parametrize("caps", [ANIMATIC, VEO], ids=lambda c: c.name)
def test_too_few_shots_get_every_named_beat_restored_in_order(server, caps):
    plan = plan_from(server, draft([shot(BEATS[0], seconds=60)]), caps)
    assert_facts(plan, caps)
    assert sum(1 for n in plan.notes if "was missing from the model's plan" in n) == 3
    assert all(s.entities == ["dog"] for s in plan.shots)  # restored shots show the model's principal too


def test_beats_out_of_order_are_put_back_with_the_models_own_prompt(server):
    shots = [shot(BEATS[1]), shot(BEATS[0], prompt="A terrier going on a walk under plane trees."),
             shot(BEATS[2]), shot(BEATS[3])]
    plan = plan_from(server, draft(shots))
    assert_facts(plan, ANIMATIC)
    assert plan.shots[0].beat == BEATS[0] and "plane trees" in plan.shots[0].prompt


def test_a_closing_shot_that_echoes_a_served_beat_is_kept(server):
    shots = [shot(b, seconds=12) for b in BEATS] + [shot("heading home", prompt="The terrier walks home at dusk.",
                                                         seconds=6)]
    plan = plan_from(server, draft(shots))
    assert_facts(plan, ANIMATIC)
    assert plan.shots[-1].beat == "heading home"


def test_unknown_cast_ids_are_left_out_and_repeated_ids_merged(server):
    cast = [{"id": "dog", "name": "Biscuit", "kind": "character", "description": "a scruffy terrier"},
            {"id": "dog", "name": "Biscuit again", "kind": "character", "description": "a poodle"}]
    shots = [shot(b, entities=("dog", "ghost-99", "Biscuit")) for b in BEATS]
    plan = plan_from(server, draft(shots, cast=cast))
    assert_facts(plan, ANIMATIC)
    assert [e.id for e in plan.cast.entities] == ["dog"] and plan.cast.entities[0].description == "a scruffy terrier"
    assert all(s.entities == ["dog"] for s in plan.shots)
    assert any("ghost-99" in n for n in plan.notes)


def test_overlays_past_the_end_are_clamped_or_left_out(server):
    overlays = [{"text": "Good boy!", "start_s": 57.5, "duration_s": 10, "position": "bottom"},
                {"text": "After the end", "start_s": 75, "duration_s": 2, "position": "center"},
                {"text": "Before the start", "start_s": -3, "duration_s": 2, "position": "top"}]
    plan = plan_from(server, draft([shot(b) for b in BEATS], overlays=overlays))
    assert_facts(plan, ANIMATIC)
    assert [(o.text, o.start, o.end) for o in plan.overlays] == [("Before the start", 0, 2),
                                                                ("Good boy!", Fraction(115, 2), 60)]
    assert any("After the end" in n for n in plan.notes)


def test_durations_and_aspect_ratios_are_stripped_from_prompts(server):
    prompts = ["An 8 second shot, 16:9, of a dog going on a walk at 24 fps in 1080p.",
               "8 seconds, 16:9: a dog sniffing around a lamp post.",
               "A dog getting a pup cup, 9:16 vertical, lasting 6 seconds.",
               "A dog meeting a friend (1:1, 4 seconds long)."]
    plan = plan_from(server, draft([shot(b, prompt=p) for b, p in zip(BEATS, prompts)]), VEO)
    assert_facts(plan, VEO)
    assert "lamp post" in plan.shots[1].prompt or any("lamp post" in s.prompt for s in plan.shots)


def test_invented_shots_are_kept_only_when_they_fit(server):
    extra = [shot(f"a cloud drifting over roof number {i}", prompt=f"Clouds drift over roof {i}.", seconds=3)
             for i in range(20)]
    shots = [shot(BEATS[0]), *extra[:10], shot(BEATS[1]), shot(BEATS[2]), shot(BEATS[3]), *extra[10:],
             shot("a cloud drifting", prompt="Clouds drift over roof 3.", seconds=3)]  # repeats a prompt
    plan = plan_from(server, draft(shots), VEO)
    assert_facts(plan, VEO)
    assert len(plan.shots) <= 15  # 60 s holds at most fifteen 4 s clips
    named = [sum(s.frames for s in plan.shots if s.beat == b) for b in BEATS]
    invented = [s.frames for s in plan.shots if s.beat not in BEATS]
    assert invented and min(named) >= max(invented)
    assert any("repeats an earlier prompt" in n for n in plan.notes)
    assert any("no time for it" in n for n in plan.notes)


def test_a_card_the_model_wrote_as_live_action_is_drawn_by_the_card_tool(server):
    request = "a 30 second video of a dog going on a walk, sniffing around, logo end card. Title card 'Day One' at the start"
    shots = [shot("going on a walk"), shot("sniffing around"),
             shot("logo end card", prompt="A dog at the gym next to a glowing logo, 8 seconds.")]
    plan = plan_from(server, draft(shots), VEO, request=request)
    assert 'title card "Day One"' in server.bodies[0]["messages"][1]["content"]  # the model is told, not asked
    assert_facts(plan, VEO, beats=["going on a walk", "sniffing around", "logo end card"])
    first, last = plan.shots[0], plan.shots[-1]
    assert (first.kind, first.card.text) == ("card", "Day One")
    assert (last.kind, last.beat, last.gen_duration) == ("card", "logo end card", None)
    assert plan.estimated_cost_usd == round(float(sum(s.gen_duration or 0 for s in plan.shots)) * 0.4, 4)


def test_a_brand_identity_keeps_its_drawn_cards_and_drops_the_models_live_action_logo(server):
    request = "A 15 second logo reveal for Acme Coffee, navy and gold, tagline 'Wake up right'"
    shots = [shot("logo reveal: the Acme logo assembles", prompt="The Acme Coffee logo assembles from beans.", seconds=5),
             shot("coffee beans swirling in navy and gold", prompt="Beans swirl in navy and gold light.", seconds=10)]
    plan = plan_from(server, draft(shots), VEO, request=request)
    assert_facts(plan, VEO, beats=[])
    kinds = [s.kind for s in plan.shots]
    assert kinds[0] == kinds[-1] == "card" and set(kinds[1:-1]) == {"generated"}
    assert (plan.shots[0].purpose, plan.shots[-1].card.subtitle) == ("logo reveal", "Wake up right")
    assert all(s.prompt.startswith("Beans swirl") for s in plan.shots[1:-1])  # the model's logo shot is gone
