"""The built-in planner: Brief + Capabilities -> an exact, deterministic Plan in each mode."""

from __future__ import annotations

import math
from fractions import Fraction
from pathlib import Path

import pytest

from reelwright.brief import Brief, Reference, frame_size
from reelwright.errors import BriefError
from reelwright.generators.base import Capabilities
from reelwright.plan import Plan
from reelwright.planning.builtin import build_plan

DOG = "a 1 min video of a dog going on a walk, sniffing around, getting a pup cup, meeting a friend"
DOG_BEATS = ["going on a walk", "sniffing around", "getting a pup cup", "meeting a friend"]
NTSC = Fraction(30000, 1001)

ANIMATIC = Capabilities(name="animatic", model="animatic", min_duration=Fraction(1, 2), max_duration=Fraction(30),
                        duration_step=Fraction(1, 4), aspects=["16:9", "9:16", "1:1", "4:3"],
                        resolutions=["360p", "480p", "720p", "1080p"], reference_images=True, max_references=4, audio=True)
VEO = Capabilities(name="veo", model="veo-3.1-generate-preview", durations=[4, 6, 8], aspects=["16:9", "9:16"],
                   resolutions=["720p", "1080p"], price_per_second=0.4, audio=True, reference_images=True, max_references=3)
RUNWAY = Capabilities(name="runway", model="gen4_turbo", durations=[5, 10], aspects=["16:9", "9:16"],
                      resolutions=["720p"], price_per_second=0.05, image_to_video=True)
GROK = Capabilities(name="xai", model="grok-imagine-video", min_duration=1, max_duration=15,
                    aspects=["16:9", "9:16", "1:1", "4:3", "3:4", "3:2", "2:3"], resolutions=["480p", "720p"],
                    price_per_second=0.05, audio=True, reference_images=True, max_references=7)
WAN = Capabilities(name="diffusers", model="Wan-AI/Wan2.1-T2V-1.3B-Diffusers", min_duration=1, max_duration=5,
                   duration_step=Fraction(1, 16), aspects=["16:9", "9:16"], resolutions=["480p", "720p"], local=True)


def plan_for(request: str, caps: Capabilities = ANIMATIC, **brief) -> Plan:
    return build_plan(Brief(request=request, generator=caps.name, **brief), caps)


def _beats_in_order(plan: Plan, purpose: str = "beat") -> list[str]:
    return list(dict.fromkeys(s.beat for s in plan.shots if s.purpose == purpose))


@pytest.mark.parametrize("caps", [ANIMATIC, VEO, RUNWAY, GROK, WAN], ids=lambda c: c.name)
def test_the_dog_minute_is_exactly_1440_frames_with_every_beat_in_order(caps):
    plan = plan_for(DOG, caps)
    assert plan.target_frames == 1440
    assert plan.total_frames == 1440
    assert plan.duration == 60
    assert _beats_in_order(plan) == DOG_BEATS
    assert plan.shots[0].purpose == "opening"
    assert plan.shots[-1].purpose == "closing"
    allowed = set(caps.durations) or None
    for s in plan.shots:
        assert 1 <= s.frames <= math.floor(s.gen_duration * plan.fps)
        if allowed:
            assert s.gen_duration in allowed


def test_the_dog_minute_at_ntsc_fps():
    plan = plan_for(DOG, VEO, fps=NTSC)
    assert plan.target_frames == 1798 == plan.total_frames
    assert plan.fps == NTSC


def test_shots_are_numbered_seeded_and_contiguous():
    plan = plan_for(DOG, seed=40)
    assert [s.id for s in plan.shots] == [f"s{i:02d}" for i in range(1, len(plan.shots) + 1)]
    assert [s.seed for s in plan.shots] == list(range(40, 40 + len(plan.shots)))
    starts = [s.start_frame for s in plan.shots]
    assert starts == [sum(s.frames for s in plan.shots[:i]) for i in range(len(plan.shots))]
    assert all(s.transition == "cut" for s in plan.shots)


def test_cameras_vary_from_shot_to_shot():
    plan = plan_for(DOG, VEO)
    cameras = [s.camera for s in plan.shots]
    assert all(a != b for a, b in zip(cameras, cameras[1:]))
    assert plan.shots[0].camera.startswith("wide establishing")


def test_subject_and_stated_setting_carry_into_every_prompt():
    plan = plan_for("a 30 second video of a dog in a park chasing a ball, then rolling in the grass", VEO)
    assert (plan.subject, plan.setting) == ("a dog", "in a park")
    for s in plan.shots:
        assert "dog" in s.prompt.lower() and "in a park" in s.prompt
        assert s.setting == "in a park"


def test_every_beat_survives_in_its_shots_prompts():
    plan = plan_for(DOG, GROK)
    for s in plan.shots:
        if s.purpose == "beat":
            assert s.beat in s.prompt


def test_beats_imply_their_places_when_none_is_stated():
    plan = plan_for(DOG)
    places = {s.beat: s.setting for s in plan.shots if s.purpose == "beat"}
    assert places["going on a walk"] == "on a leafy neighbourhood street"
    assert places["getting a pup cup"] == "in a cosy coffee shop"


def test_subject_is_the_principal_entity_in_every_shot():
    plan = plan_for(DOG)
    [dog] = plan.cast.entities
    assert (dog.id, dog.kind, dog.description) == ("dog", "character", "a dog")
    assert [a.shot for a in dog.appearances] == [s.id for s in plan.shots]
    assert all(s.entities == ["dog"] and s.roles == {"dog": "principal"} for s in plan.shots)


def test_estimated_cost_is_generated_seconds_times_price():
    plan = plan_for(DOG, VEO)
    assert plan.estimated_cost_usd == pytest.approx(float(sum(s.gen_duration for s in plan.shots)) * 0.4)


def test_plan_round_trips_through_json():
    plan = plan_for(f"{DOG}. show 'SALE 50%' at 0:05 for 3 seconds", VEO, fps=NTSC,
                    references=[Reference(path=Path("dog.png"))])
    assert Plan.model_validate_json(plan.to_json()) == plan


@pytest.mark.parametrize("caps", [ANIMATIC, VEO, GROK], ids=lambda c: c.name)
def test_same_brief_gives_identical_plan_json(caps):
    brief = Brief(request=f"{DOG}, title card 'Day One' at the start", generator=caps.name, seed=7,
                  references=[Reference(path=Path("biscuit.png"), name="Biscuit")])
    assert build_plan(brief, caps).to_json() == build_plan(brief.model_copy(deep=True), caps).to_json()


def test_duration_from_the_brief_wins_over_the_words():
    plan = plan_for(DOG, duration=Fraction(30))
    assert plan.target_frames == 720


@pytest.mark.parametrize(("request_text", "seconds"), [
    ("a video of a dog chasing a ball", 30), ("a short film about a robot who learns to paint", 60),
    ("a UGC ad for my face serum", 30), ("a logo reveal for Acme Coffee", 15),
])
def test_mode_default_lengths(request_text, seconds):
    plan = plan_for(request_text)
    assert plan.duration == seconds


def test_over_an_hour_needs_allow_long():
    with pytest.raises(BriefError, match="allow-long"):
        plan_for("a 2 hour video of clouds drifting")
    plan = plan_for("a 2 hour video of clouds drifting", allow_long=True)
    assert plan.total_frames == 2 * 3600 * 24


def test_aspect_from_words_from_the_brief_and_per_mode():
    assert plan_for("a vertical video of a cat").aspect == "9:16"
    assert plan_for("a vertical video of a cat", aspect="1:1").aspect == "1:1"
    assert plan_for("a UGC ad for my face serum").aspect == "9:16"
    assert plan_for("a video of a cat").aspect == "16:9"


def test_unsupported_aspect_falls_back_to_the_closest_with_a_note():
    plan = plan_for("a 4:3 video of a cat", VEO)
    assert plan.aspect == "16:9"
    assert any("4:3" in n and "16:9" in n for n in plan.notes)


def test_size_comes_from_aspect_and_a_supported_resolution():
    plan = plan_for("a vertical video of a cat", RUNWAY, resolution="1080p")
    assert (plan.width, plan.height) == frame_size("9:16", "720p") == (720, 1280)
    assert any("1080p" in n for n in plan.notes)


def test_request_overlays_land_in_the_plan_at_exact_times_and_an_end_card_is_a_card_shot():
    plan = plan_for(f"{DOG}. Show 'SALE 50%' at 0:05 for 3 seconds, end card 'Subscribe' at the end", VEO)
    [sale] = plan.overlays
    assert (sale.text, sale.start, sale.duration) == ("SALE 50%", 5, 3)
    end = plan.shots[-1]
    assert (end.kind, end.card.text, plan.shot_start(end), plan.shot_duration(end)) == ("card", "Subscribe", 57, 3)
    assert end.gen_duration is None  # nothing is generated for it
    assert not any("SALE" in s.beat for s in plan.shots)
    assert plan.total_frames == plan.target_frames == 1440


def test_overlay_after_the_end_is_a_brief_error():
    with pytest.raises(BriefError, match="Too late"):
        plan_for("a 60 second video of a cat, show 'Too late' at 0:75")


def test_a_tone_bed_runs_the_whole_video():
    plan = plan_for(DOG, VEO)
    [tone] = plan.audio
    assert (tone.kind, tone.start, tone.duration) == ("tone", 0, plan.duration)


def test_short_film_has_setup_turn_and_resolution_in_order():
    plan = plan_for("A short film about a lighthouse keeper who finds a message in a bottle. "
                    "She reads it by candlelight. Then she sets sail at dawn.", RUNWAY)
    purposes = list(dict.fromkeys(s.purpose for s in plan.shots))
    assert purposes == ["setup", "turn", "resolution"]
    beats = [b for p in purposes for b in _beats_in_order(plan, p)]
    assert beats == ["finds a message in a bottle", "She reads it by candlelight", "she sets sail at dawn"]
    turn = sum(s.frames for s in plan.shots if s.purpose == "turn")
    assert turn >= plan.total_frames // 3  # the turn is the longest act


def test_short_film_without_beats_still_has_three_acts():
    plan = plan_for("a short film about a lonely robot", ANIMATIC)
    assert [s.purpose for s in plan.shots] == ["setup", "turn", "resolution"]
    assert all("lonely robot" in s.prompt for s in plan.shots)


def test_ugc_ad_runs_hook_to_call_to_action_around_the_product():
    plan = plan_for("a 30 second UGC ad for my coffee grinder", VEO)
    purposes = list(dict.fromkeys(s.purpose for s in plan.shots))
    assert purposes == ["hook", "problem", "product in use", "proof", "call to action"]
    assert plan.subject == "coffee grinder"
    assert all("the coffee grinder" in s.prompt for s in plan.shots)
    kinds = {e.id: e.kind for e in plan.cast.entities}
    assert kinds == {"coffee-grinder": "object", "creator": "character"}


def test_ugc_beats_become_product_in_use_shots():
    plan = plan_for("UGC video for my coffee grinder: grinding fresh beans, then brewing a pour-over", ANIMATIC)
    assert _beats_in_order(plan, "product in use") == ["grinding fresh beans", "brewing a pour-over"]


def test_brand_identity_reveals_the_logo_and_ends_on_the_tagline():
    plan = plan_for("A logo reveal for Acme Coffee, navy and gold, tagline 'Wake up right'", VEO)
    assert [s.purpose for s in plan.shots][0] == "logo reveal"
    assert plan.shots[-1].purpose == "end card"
    assert any("navy and gold" in s.prompt for s in plan.shots)
    reveal, last = plan.shots[0], plan.shots[-1]
    assert reveal.kind == last.kind == "card"  # a model would garble the logo and the lettering
    assert (last.card.text, last.card.subtitle, last.card.colors) == ("Acme Coffee", "Wake up right", ["navy", "gold"])
    assert plan.overlays == []  # the card carries the tagline


def test_a_short_video_drops_the_closing_shot_with_a_note():
    plan = plan_for("a 4 second video of a cat yawning")
    assert [s.purpose for s in plan.shots] == ["opening", "beat"]
    assert any("closing" in n for n in plan.notes)


def test_mode_from_the_brief_wins_over_the_words():
    plan = plan_for("a short film about a dog", mode="create-video")
    assert plan.mode == "create-video"
    assert plan.shots[0].purpose == "opening"


def test_named_reference_is_an_entity_and_unnamed_ones_attach_to_the_subject():
    refs = [Reference(path=Path("dog.png")), Reference(path=Path("luna.png"), name="Luna")]
    plan = plan_for("a 30 second video of a dog going on a walk, then meeting Luna at the park gate", GROK,
                    references=refs)
    dog, luna = plan.cast.entities
    assert [r.path for r in dog.references] == [Path("dog.png")]
    assert (luna.name, [r.path for r in luna.references]) == ("Luna", [Path("luna.png")])
    meeting = [s for s in plan.shots if s.beat.startswith("meeting Luna")]
    walking = [s for s in plan.shots if s.beat == "going on a walk"]
    assert all(luna.id in s.entities for s in meeting) and not any(luna.id in s.entities for s in walking)
    assert all(s.source == "reference" for s in plan.shots)
    assert all("dog (<IMAGE_1>)" in s.prompt for s in plan.shots)
    assert all("Luna (<IMAGE_2>)" in s.prompt for s in meeting)


def test_a_reference_named_like_the_subject_is_the_subject():
    plan = plan_for("a video of my dog Biscuit chasing a ball", references=[Reference(path=Path("b.png"), name="Biscuit")])
    [biscuit] = plan.cast.entities
    assert (biscuit.id, biscuit.name, len(biscuit.references)) == ("biscuit", "Biscuit", 1)


def test_grok_reference_clips_are_at_most_ten_seconds():
    plan = plan_for(DOG, GROK, references=[Reference(path=Path("dog.png"))])
    assert max(s.gen_duration for s in plan.shots) <= 10
    assert plan.total_frames == 1440


def test_wan_shots_carry_a_negative_prompt_and_animatic_shots_none():
    assert all(s.negative_prompt and "blurry" in s.negative_prompt for s in plan_for(DOG, WAN).shots)
    assert all(s.negative_prompt == "" for s in plan_for(DOG, ANIMATIC).shots)


def test_ten_minute_request_on_veo():
    plan = plan_for("a 10 minute video of my cat Mochi exploring the house, chasing a laser, napping in the sun", VEO)
    assert plan.total_frames == plan.target_frames == 14400
    assert _beats_in_order(plan) == ["exploring the house", "chasing a laser", "napping in the sun"]
    opening = [s for s in plan.shots if s.purpose == "opening"]
    assert len(opening) == 1 and opening[0].frames <= 8 * 24  # the time goes to the beats


def test_light_named_for_the_whole_video_lights_every_shot():
    plan = plan_for(f"{DOG}, golden hour", VEO)
    assert _beats_in_order(plan) == DOG_BEATS
    assert all("golden-hour" in s.prompt for s in plan.shots)


def test_light_named_inside_a_beat_lights_only_that_beat():
    plan = plan_for("a 20 second video of a dog running on the beach at sunset, then sleeping at home", ANIMATIC)
    running = [s for s in plan.shots if s.beat.startswith("running")]
    sleeping = [s for s in plan.shots if s.beat.startswith("sleeping")]
    assert running and all("sunset light" in s.prompt for s in running)
    assert sleeping and not any("sunset light" in s.prompt for s in sleeping)


def test_a_request_without_words_still_makes_a_plan():
    plan = plan_for("!!!")
    assert plan.total_frames == plan.target_frames == 30 * 24


def test_a_subject_of_one_endless_word_still_makes_a_plan_with_safe_ids():
    # Found by the studio's schemathesis run: a 2,000-character subject made an entity id the plan refused.
    from reelwright.api import plan_video
    from reelwright.context.memory import slug
    from reelwright.plan import SAFE_ID

    plan = plan_video("a 6 second video of " + "0" * 2000, resolution="360p")
    assert all(SAFE_ID.fullmatch(e.id) for e in plan.cast.entities)
    assert SAFE_ID.fullmatch(slug("x" * 500))
