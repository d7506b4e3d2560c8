"""Properties every built-in plan keeps, checked over a table of varied requests in every mode: the person's
beats in order and never shorter than a template beat, no template beat that repeats one of theirs, cards
drawn (never generated), no sound or place phrase the request's words did not call for, pronouns resolved."""

from __future__ import annotations

import re
from fractions import Fraction

import pytest

from reelwright.brief import Brief
from reelwright.generators.base import Capabilities
from reelwright.plan import Plan
from reelwright.planning import lexicon, styles
from reelwright.planning.builtin import build_plan
from reelwright.planning.cards import card_kind
from reelwright.planning.modes import _DUPLICATES
from reelwright.planning.parse import parse_request

VEO = Capabilities(name="veo", model="veo-3.1-generate-preview", durations=[4, 6, 8], aspects=["16:9", "9:16"],
                   resolutions=["720p", "1080p"], price_per_second=0.4, audio=True)
GROK = Capabilities(name="xai", model="grok-imagine-video", min_duration=1, max_duration=15,
                    aspects=["16:9", "9:16", "1:1"], resolutions=["480p", "720p"], price_per_second=0.05, audio=True)
ANIMATIC = Capabilities(name="animatic", model="animatic", min_duration=Fraction(1, 2), max_duration=Fraction(30),
                        duration_step=Fraction(1, 4), aspects=["16:9", "9:16", "1:1"], resolutions=["720p"], audio=True)

# (mode, request): varied subjects, lengths, cards and pronouns in every mode.
REQUESTS = [
    ("create-video", "a 1 min video of a dog going on a walk, sniffing around, getting a pup cup, meeting a friend"),
    ("create-video", "a 20 second video of a cat chasing a laser pointer, then napping in the sun, end card 'Bye'"),
    ("create-video", "a 45 second video of my grandmother baking bread, kneading the dough, pulling a loaf from the "
                     "oven. Title card 'Sunday' at the start"),
    ("short-film", "A short film about a lighthouse keeper who finds a message in a bottle. She reads it by "
                   "candlelight. Then she sets sail at dawn."),
    ("short-film", "a short film about a lonely robot, title card 'Rust', then it finds a flower, end card"),
    ("ugc-product", "a 30 second UGC ad for the Tide water bottle: unboxing it, filling it at the gym, drinking from "
                    "it on a run, tossing it in a gym bag, logo end card"),
    ("ugc-product", "UGC video for my coffee grinder: grinding fresh beans, then brewing a pour-over, showing off the "
                    "result"),
    ("ugc-product", "a 20 second UGC ad for the Glow face serum: applying it at night, waking up with bright skin, "
                    "call to action"),
    ("brand-identity", "A logo reveal for Acme Coffee, navy and gold, tagline 'Wake up right'"),
    ("brand-identity", "a 20 second brand identity video for Northwind, teal and white, a delivery van driving "
                       "through the city, end card with the tagline 'Always on time'"),
]
IDS = [f"{mode}-{i}" for i, (mode, _) in enumerate(REQUESTS)]


def plan_of(request: str, caps: Capabilities) -> Plan:
    return build_plan(Brief(request=request, generator=caps.name), caps)


def named(request: str) -> list[str]:
    return parse_request(request).beats


def beat_frames(plan: Plan) -> dict[str, int]:
    out: dict[str, int] = {}
    for s in plan.shots:
        out[s.beat] = out.get(s.beat, 0) + s.frames
    return out


@pytest.mark.parametrize("caps", [VEO, GROK, ANIMATIC], ids=lambda c: c.name)
@pytest.mark.parametrize("mode,request_text", REQUESTS, ids=IDS)
def test_every_named_beat_in_order_at_the_exact_length(mode, request_text, caps):
    plan = plan_of(request_text, caps)
    assert plan.mode == mode
    assert plan.total_frames == plan.target_frames
    order = list(dict.fromkeys(s.beat for s in plan.shots))
    beats = named(request_text)
    assert [b for b in order if b in beats] == beats


@pytest.mark.parametrize("caps", [VEO, GROK, ANIMATIC], ids=lambda c: c.name)
@pytest.mark.parametrize("mode,request_text", REQUESTS, ids=IDS)
def test_the_persons_beats_get_at_least_the_time_of_template_beats(mode, request_text, caps):
    plan = plan_of(request_text, caps)
    beats = set(named(request_text))
    frames = beat_frames(plan)
    generated = {s.beat for s in plan.shots if s.kind == "generated"}
    theirs = [frames[b] for b in generated if b in beats]
    template = [frames[b] for b in generated if b not in beats]
    if theirs and template:
        assert min(theirs) >= max(template), frames


@pytest.mark.parametrize("mode,request_text", REQUESTS, ids=IDS)
def test_no_template_beat_repeats_a_named_one(mode, request_text):
    plan = plan_of(request_text, VEO)
    beats = named(request_text)
    for shot in plan.shots:
        rx = _DUPLICATES.get(shot.purpose)
        if shot.beat not in beats and rx is not None:
            assert not any(rx.search(b) for b in beats), (shot.purpose, beats)


@pytest.mark.parametrize("caps", [VEO, GROK, ANIMATIC], ids=lambda c: c.name)
@pytest.mark.parametrize("mode,request_text", REQUESTS, ids=IDS)
def test_cards_are_drawn_never_generated(mode, request_text, caps):
    plan = plan_of(request_text, caps)
    facts = parse_request(request_text)
    asked = [b for b in facts.beats if card_kind(b)] + [s.text for s in facts.overlay_specs if s.card]
    cards = [s for s in plan.shots if s.kind == "card"]
    assert len(cards) >= len(asked)
    for beat in asked:
        assert any(beat in s.beat for s in cards), beat
    for s in cards:
        assert s.card is not None and (s.card.text or s.card.logo) and s.gen_duration is None
    for s in plan.shots:
        if s.kind == "generated":
            assert not re.search(r"(?i)\b(?:end|title|logo)\s+card\b", f"{s.beat} {s.prompt}"), s.beat
    made = sum(float(s.gen_duration or 0) for s in plan.shots)
    assert plan.estimated_cost_usd == round(made * caps.price_per_second, 4)  # cards cost nothing


@pytest.mark.parametrize("caps", [VEO, GROK], ids=lambda c: c.name)
@pytest.mark.parametrize("mode,request_text", REQUESTS, ids=IDS)
def test_no_sound_or_place_phrase_the_words_did_not_call_for(mode, request_text, caps):
    plan = plan_of(request_text, caps)
    prompts = " ".join(s.prompt for s in plan.shots)
    for pattern, phrase in styles._SFX:
        if re.search(rf"(?:SFX|Sound): {re.escape(phrase)}\b", prompts):
            assert re.search(pattern, request_text, re.I), f"{phrase!r} without {pattern!r} in the request"
    for rx, phrase in lexicon.SETTING_HINTS:
        if phrase in prompts:
            assert rx.search(request_text), f"{phrase!r} without {rx.pattern!r} in the request"


def test_a_water_bottle_ad_has_no_dog_sounds():
    prompts = " ".join(s.prompt for s in plan_of(REQUESTS[5][1], VEO).shots)
    assert "lapping" not in prompts and "bark" not in prompts
    sipping = plan_of("a UGC ad for the Tide water bottle: sipping from it at my desk, then drinking it all", VEO)
    prompts = " ".join(s.prompt for s in sipping.shots)
    assert "lapping" not in prompts and "a few sips" in prompts


@pytest.mark.parametrize("mode,request_text", [r for r in REQUESTS if r[0] == "ugc-product"])
def test_pronouns_resolve_to_the_product(mode, request_text):
    plan = plan_of(request_text, VEO)
    product = plan.subject
    for shot in plan.shots:
        if shot.kind == "generated" and re.search(r"\bit\b", shot.beat):
            assert not re.search(r"(?i)\b(?:unboxing|filling|drinking from|tossing|applying) it\b", shot.prompt)
            assert f"the {product}" in shot.prompt


def test_the_tide_ad_as_the_issue_found_it():
    plan = plan_of(REQUESTS[5][1], VEO)
    filling = next(s for s in plan.shots if s.beat == "filling it at the gym")
    assert "filling the Tide water bottle at the gym" in filling.prompt
    end = plan.shots[-1]
    assert (end.kind, end.beat, end.purpose) == ("card", "logo end card", "end card")
    assert "call to action" not in [s.purpose for s in plan.shots]  # the end card is the ad's call to action


@pytest.mark.parametrize("beat,purpose,merges", [
    ("showing off the result", "proof", True), ("a before and after comparison", "proof", True),
    ("drinking it after a workout", "proof", False), ("ordering a refill online", "call to action", True),
    ("running in order to warm up", "call to action", False), ("the everyday struggle with leaks", "problem", True),
])
def test_which_beats_a_template_beat_merges_into(beat, purpose, merges):
    assert bool(_DUPLICATES[purpose].search(beat)) is merges
