"""Prompt rewriting per generator style by a chat model on a fake server; the beat's words must survive
and parameters (duration, size, fps, aspect) never stay in the prose."""

from __future__ import annotations

import pytest

from reelwright.brief import Brief
from reelwright.generators.animatic import AnimaticGenerator
from reelwright.generators.base import Capabilities
from reelwright.llm import get_llm
from reelwright.planning.builtin import build_plan
from reelwright.planning.parse import parse_request
from reelwright.planning.rewrite import (beat_survives, key_words, missing_words, rewrite_prompts,
                                         strip_parameter_prose)
from tests.fakes.openai_server import FakeOpenAI, completion, json_completion

DOG_WALK = "a 20 second video of a dog going on a walk, sniffing around, getting a pup cup, meeting a friend"
WAN = Capabilities(name="diffusers", model="Wan-AI/Wan2.1-T2V-1.3B-Diffusers", min_duration=1, max_duration=5,
                   duration_step=1, fps=[16], local=True)


def dense(beat: str) -> str:
    return (f"Cinematic live-action film style, photorealistic. Golden hour, warm low sun, medium tracking shot. "
            f"A scruffy terrier is {beat} on a leafy street, tail up, ears flicking. The camera tracks alongside.")


def responder_keeping_beats(body):
    facts = body["messages"][1]["content"]  # after the system prompt: the shot's facts
    beat = facts.split("Beat (keep these words): ", 1)[1].splitlines()[0]
    return json_completion({"prompt": dense(beat), "negative_prompt": "blurry, extra limbs"})


@pytest.fixture
def server():
    with FakeOpenAI() as s:
        yield s


def test_key_words_drop_light_words_and_match_word_forms():
    assert key_words("getting a pup cup") == ["pup", "cup"]
    assert beat_survives("sniffing around", "The dog sniffs the lamppost")
    assert beat_survives("meeting a friend", "she meets her friends")
    assert missing_words("getting a pup cup", "The dog licks a cup") == ["pup"]


def test_parameter_prose_is_stripped():
    text = "An 8-second shot of a dog getting a pup cup, 1080p, 16:9 aspect ratio, 24 fps. Lasting 5 seconds."
    assert strip_parameter_prose(text) == "A shot of a dog getting a pup cup."
    assert strip_parameter_prose("A 1990s diner at 3:00 pm.") == "A 1990s diner at 3:00 pm."


def test_every_shot_is_rewritten_in_the_generators_style_and_every_beat_survives(server):
    server.responder = responder_keeping_beats
    brief = Brief(request=DOG_WALK, generator="diffusers:Wan-AI/Wan2.1-T2V-1.3B-Diffusers", fps=16)
    plan = build_plan(brief, WAN)
    out = rewrite_prompts(plan, get_llm("openai:gpt-4.1-mini", base_url=server.base_url), generator="diffusers",
                          model=WAN.model)
    assert len(server.requests) == len(plan.shots)
    assert all("Wan prompt style" in b["messages"][0]["content"] for b in server.bodies)
    assert [s.prompt for s in out.shots] == [dense(s.beat) for s in plan.shots]
    assert all(s.negative_prompt == "blurry, extra limbs" for s in out.shots)  # Wan takes a negative prompt
    for beat in parse_request(DOG_WALK).beats:
        assert any(beat_survives(beat, s.prompt) for s in out.shots), beat
    assert plan.shots[0].prompt != out.shots[0].prompt  # the input plan is left as it was


def test_a_rewrite_that_drops_the_beat_is_asked_again(server):
    plan = build_plan(Brief(request="a 4 second video of a dog getting a pup cup"), AnimaticGenerator().capabilities())
    replies = iter([{"prompt": "A dog licks a cup in a cafe.", "negative_prompt": ""},
                    {"prompt": "A dog getting a pup cup in a cafe, 8 seconds, 4K.", "negative_prompt": "x"}])
    server.responder = lambda body: (json_completion(next(replies)) if "pup cup" in body["messages"][1]["content"]
                                     else responder_keeping_beats(body))
    out = rewrite_prompts(plan, get_llm("openai:gpt-4.1-mini", base_url=server.base_url), generator="animatic")
    i = next(i for i, s in enumerate(plan.shots) if s.beat == "getting a pup cup")
    repair = next(b for b in server.bodies if len(b["messages"]) == 4)["messages"][-1]["content"]
    assert "lost words of the beat: pup" in repair
    assert out.shots[i].prompt == "A dog getting a pup cup in a cafe."  # duration and size stripped
    assert out.shots[i].negative_prompt == ""  # the generic style takes no negative prompt


def test_a_rewrite_that_keeps_losing_the_beat_keeps_the_builtin_prompt(server):
    plan = build_plan(Brief(request="a 4 second video of a dog getting a pup cup"), AnimaticGenerator().capabilities())
    server.responder = lambda body: json_completion({"prompt": "A happy dog in a cafe.", "negative_prompt": ""})
    out = rewrite_prompts(plan, get_llm("openai:gpt-4.1-mini", base_url=server.base_url), generator="animatic")
    i = next(i for i, s in enumerate(plan.shots) if s.beat == "getting a pup cup")
    assert out.shots[i].prompt == plan.shots[i].prompt
    assert any("1 shot(s) kept the built-in prompt" in n for n in out.notes)


def test_a_broken_reply_is_retried_once(server):
    plan = build_plan(Brief(request="a 4 second video of a dog getting a pup cup"), AnimaticGenerator().capabilities())
    server.responder = lambda body: (completion("Here you go: a dog getting a pup cup") if len(body["messages"]) == 2
                                     else responder_keeping_beats(body))
    out = rewrite_prompts(plan, get_llm("openai:gpt-4.1-mini", base_url=server.base_url), generator="animatic")
    retries = [b for b in server.bodies if len(b["messages"]) == 4]
    assert len(retries) == len(plan.shots)
    assert all("Answer with only the JSON object" in b["messages"][-1]["content"] for b in retries)
    assert [s.prompt for s in out.shots] == [dense(s.beat) for s in plan.shots]


def test_card_shots_are_not_sent_for_rewriting(server):
    server.responder = responder_keeping_beats
    brief = Brief(request=f"{DOG_WALK}. Title card 'Day One' at the start", generator="diffusers", fps=16)
    plan = build_plan(brief, WAN)
    [card] = [s for s in plan.shots if s.kind == "card"]
    out = rewrite_prompts(plan, get_llm("openai:gpt-4.1-mini", base_url=server.base_url), generator="diffusers",
                          model=WAN.model)
    assert len(server.requests) == len(plan.shots) - 1
    assert out.shot(card.id) == card
    assert "; " not in out.notes[-1]  # no shot "kept the built-in prompt": the card was never a candidate
