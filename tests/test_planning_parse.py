"""Reading requests: durations, aspects, modes, subject, setting, beats, overlays, style, product/brand."""

from __future__ import annotations

from fractions import Fraction

import pytest

from reelwright.errors import BriefError
from reelwright.planning.parse import parse_request

DOG = "a 1 min video of a dog going on a walk, sniffing around, getting a pup cup, meeting a friend"


@pytest.mark.parametrize(("phrase", "seconds"), [
    ("1 min", 60), ("a minute", 60), ("one-minute", 60), ("90-second", 90), ("90 sec", 90), ("1:30", 90),
    ("2 minutes", 120), ("30s", 30), ("a minute and a half", 90), ("half a minute", 30), ("1.5 minutes", 90),
    ("45 seconds", 45), ("1m30s", 90), ("1 min 30 sec", 90), ("an hour", 3600), ("10-minute", 600),
    ("twenty-five second", 25), ("one and a half minute", 90), ("2:05", 125),
])
def test_duration_phrases_are_read_exactly(phrase, seconds):
    facts = parse_request(f"make a {phrase} video of a cat napping in the sun")
    assert facts.duration == Fraction(seconds)
    assert facts.subject == "a cat"
    assert facts.beats == ["napping in the sun"]


@pytest.mark.parametrize("text", ["90 seconds", "2 minutes", "1:30", "a minute and a half", "30s"])
def test_a_bare_duration_is_read(text):
    assert parse_request(text).duration is not None


def test_duration_after_the_description_is_read():
    facts = parse_request("a cat napping in the sun, 45 seconds")
    assert facts.duration == 45
    assert facts.beats == ["napping in the sun"]


def test_no_duration_words_give_none():
    assert parse_request("a video of a cat napping in the sun").duration is None


@pytest.mark.parametrize("text", ["a 90s style video of skateboarders", "a video of the 80s music scene",
                                  "a 9:16 video of a cat", "a robot running a 100 m sprint"])
def test_decades_ratios_and_metres_are_not_durations(text):
    assert parse_request(text).duration is None


def test_the_video_length_wins_over_a_duration_inside_a_beat():
    facts = parse_request("a cat staring at a wall for 10 seconds then sleeping, a 30 second video")
    assert facts.duration == 30


@pytest.mark.parametrize(("text", "aspect"), [
    ("a vertical video of a cat", "9:16"), ("a portrait video of a cat", "9:16"),
    ("a video of a cat for TikTok", "9:16"), ("a cat video for Reels", "9:16"),
    ("a cat video for YouTube Shorts", "9:16"), ("a cat video for my Instagram story", "9:16"),
    ("a cat video, make it square", "1:1"), ("a cat video for the Instagram feed", "1:1"),
    ("a widescreen video of a cat", "16:9"), ("a cat video for YouTube", "16:9"),
    ("a video of a cat in landscape", "16:9"), ("a 4:3 video of a cat", "4:3"), ("a cat video in 9:16", "9:16"),
])
def test_aspect_words(text, aspect):
    assert parse_request(text).aspect == aspect


@pytest.mark.parametrize("text", ["pigeons in the town square, 20 seconds", "a portrait of my grandmother",
                                  "a video of a square table in a kitchen"])
def test_things_named_square_or_portrait_are_not_aspects(text):
    assert parse_request(text).aspect is None


def test_platform_words_do_not_become_beats():
    facts = parse_request("a 30 second vertical video for TikTok of my cat knocking things off tables, then napping")
    assert facts.aspect == "9:16"
    assert facts.beats == ["knocking things off tables", "napping"]
    assert not any("tiktok" in b.lower() for b in facts.beats)


@pytest.mark.parametrize(("text", "mode"), [
    ("a short film about a lighthouse keeper who finds a message", "short-film"),
    ("a story of two robots falling in love", "short-film"),
    ("a UGC video for my face serum", "ugc-product"), ("an ad for my coffee grinder", "ugc-product"),
    ("a product video of my new backpack", "ugc-product"), ("a logo reveal for Acme", "brand-identity"),
    ("brand identity for my bakery called Crumbs", "brand-identity"), ("a video of a dog in a park", None),
])
def test_mode_hints(text, mode):
    assert parse_request(text).mode == mode


def test_the_dog_request():
    facts = parse_request(DOG)
    assert facts.duration == 60
    assert facts.subject == "a dog"
    assert facts.beats == ["going on a walk", "sniffing around", "getting a pup cup", "meeting a friend"]


def test_beats_split_on_then_and_after_that_in_order():
    facts = parse_request("a cat wakes up, then stretches and then eats breakfast. After that, she naps by the window")
    assert facts.subject == "a cat"
    assert facts.beats == ["wakes up", "stretches", "eats breakfast", "she naps by the window"]


def test_and_joins_two_actions_but_not_two_things():
    facts = parse_request("a chef cooking pasta with salt and pepper and plating it for guests")
    assert facts.beats == ["cooking pasta with salt and pepper", "plating it for guests"]


def test_numbered_list_lines_are_beats():
    facts = parse_request("Make a 30 second video of my cat:\n1. waking up\n2. eating breakfast\n3. napping in the sun")
    assert (facts.subject, facts.duration) == ("my cat", 30)
    assert facts.beats == ["waking up", "eating breakfast", "napping in the sun"]


def test_inline_numbered_list_is_beats():
    facts = parse_request("a video of my dog: 1. waking up 2. eating breakfast 3. napping in the sun")
    assert facts.beats == ["waking up", "eating breakfast", "napping in the sun"]


def test_bullet_lines_are_beats_and_name_the_subject():
    facts = parse_request("- a fox wakes in its den\n- the fox hunts in the snow\n- the fox curls up to sleep")
    assert facts.beats == ["a fox wakes in its den", "the fox hunts in the snow", "the fox curls up to sleep"]
    assert facts.subject == "a fox"


def test_an_aside_about_the_subject_is_not_a_beat():
    facts = parse_request("a lonely robot, rusted and old, wanders a desert, finds a flower and waters it")
    assert facts.subject == "a lonely robot, rusted and old"
    assert facts.beats == ["wanders a desert", "finds a flower", "waters it"]


def test_setting_after_the_subject():
    facts = parse_request("a dog in a park going on a walk and then meeting a friend")
    assert (facts.subject, facts.setting) == ("a dog", "in a park")
    assert facts.beats == ["going on a walk", "meeting a friend"]


def test_set_in_names_the_setting():
    facts = parse_request("a story set in Paris where a girl loses her balloon")
    assert facts.setting == "in Paris"
    assert facts.subject == "a girl"
    assert facts.beats == ["loses her balloon"]


def test_overlay_with_time_and_duration():
    facts = parse_request(f"{DOG}. Show 'SALE 50%' at 0:05 for 3 seconds")
    [overlay] = facts.overlays
    assert (overlay.text, overlay.start, overlay.duration) == ("SALE 50%", Fraction(5), Fraction(3))


def test_overlay_text_at_seconds_gets_the_default_length():
    facts = parse_request('text "Hello" at 10s, a 20 second clip of waves at sunset')
    [overlay] = facts.overlays
    assert (overlay.text, overlay.start, overlay.duration) == ("Hello", Fraction(10), Fraction(3))
    assert facts.duration == 20


def test_overlay_fractional_time_is_exact():
    [overlay] = parse_request("a 30 second video of a cat, show \"Wow\" at 0:02.5 for 1.5 seconds").overlays
    assert (overlay.start, overlay.duration) == (Fraction(5, 2), Fraction(3, 2))


def test_title_card_at_the_start_and_end_card_at_the_end():
    facts = parse_request(f"{DOG}. Title card 'Day One' at the start and end card 'Subscribe' at the end")
    title, end = facts.overlays
    assert (title.text, title.start, title.duration) == ("Day One", 0, 3)
    assert (end.text, end.start, end.duration) == ("Subscribe", 57, 3)


def test_overlay_in_the_last_seconds():
    [overlay] = parse_request(f"{DOG}, with the text 'Follow for more' for the last 5 seconds").overlays
    assert (overlay.start, overlay.duration) == (55, 5)


def test_end_anchored_overlays_resolve_against_a_known_length():
    facts = parse_request("a video of a cat, end card 'Bye' at the end")
    assert facts.overlays == []  # no length yet
    [overlay] = facts.overlays_for(Fraction(20))
    assert (overlay.start, overlay.duration) == (17, 3)


def test_overlay_phrases_do_not_become_beats():
    facts = parse_request(f"{DOG}, show 'SALE 50%' at 0:05 for 3 seconds, title card 'Day One' at the start")
    assert facts.beats == ["going on a walk", "sniffing around", "getting a pup cup", "meeting a friend"]
    assert "SALE" not in facts.cleaned and "Day One" not in facts.cleaned
    assert "sniffing around" in facts.cleaned


def test_overlay_running_past_the_end_is_clamped():
    [overlay] = parse_request("a 60 second video of a cat, show 'Last' at 0:58 for 5 seconds").overlays
    assert (overlay.start, overlay.duration) == (58, 2)


def test_overlay_starting_after_the_end_is_an_error_quoting_it():
    facts = parse_request("a 60 second video of a cat, show 'Late' at 0:75")
    with pytest.raises(BriefError, match="Late"):
        facts.overlays_for(Fraction(60))


def test_a_quote_without_an_overlay_word_is_kept_in_the_beat():
    facts = parse_request("a dog wearing a 'Best Boy' bandana going on a walk")
    assert facts.overlay_specs == []
    assert any("'Best Boy' bandana" in b for b in facts.beats)


def test_style_words_in_order():
    facts = parse_request("a cinematic claymation video of a snail racing a tortoise")
    assert facts.style == ["cinematic", "claymation"]
    assert facts.subject == "a snail"


def test_product_and_brand_of_an_ad():
    facts = parse_request("An ad for Acme's new running shoes, 15s, for Reels")
    assert (facts.mode, facts.product, facts.brand, facts.duration, facts.aspect) == (
        "ugc-product", "running shoes", "Acme", 15, "9:16")
    assert facts.beats == []


def test_brand_tagline_and_colours():
    facts = parse_request("A logo reveal for Acme Coffee, navy and gold, tagline 'Wake up right'")
    assert (facts.mode, facts.brand, facts.tagline) == ("brand-identity", "Acme Coffee", "Wake up right")
    assert facts.colors == ["navy", "gold"]
    assert facts.beats == []


def test_resolution_and_fps_words_are_read_and_removed():
    facts = parse_request("a 9:16 video of a robot walks through a desert, 4k at 30 fps")
    assert (facts.resolution, facts.fps, facts.aspect) == ("2160p", 30, "9:16")
    assert facts.beats == ["walks through a desert"]


def test_lighting_words():
    assert "sunset" in parse_request("a video of waves at sunset").lighting


def test_empty_request_is_an_error():
    with pytest.raises(BriefError):
        parse_request("   ")


def test_look_words_on_their_own_are_not_beats():
    facts = parse_request(f"{DOG}, golden hour, cinematic")
    assert facts.beats == ["going on a walk", "sniffing around", "getting a pup cup", "meeting a friend"]
    assert "golden-hour" in facts.lighting and facts.style == ["cinematic"]
