"""Prompt styles: which style a generator wants, the style's written rules, and prompts that follow them."""

from __future__ import annotations

import re

import pytest

from reelwright.errors import ConfigError
from reelwright.planning.styles import STYLES, load_style_instructions, style_for_generator, uses_negative, write_prompt

SHOT = dict(subject="a dog", action="getting a pup cup", setting="in a cosy coffee shop",
            camera="close-up, gentle handheld drift", lighting="warm window light", mood="cheerful and cosy",
            style_words=["cinematic"])
PROSE_PARAMETERS = re.compile(r"\b\d+(?:\.\d+)?\s*(?:s|sec|secs|seconds?)\b|\b\d{3,4}p\b|\b\d+:\d+\b|\bfps\b|"
                              r"veo-3|grok-imagine|wan2|aspect ratio|duration|resolution", re.I)


def _prompt(style: str, **over) -> tuple[str, str]:
    kw = {**SHOT, "audio": True, **over}
    return write_prompt(style, **kw)


@pytest.mark.parametrize(("name", "model", "style"), [
    ("xai", "grok-imagine-video-1.5", "grok"), ("veo", "veo-3.1-generate-preview", "veo"),
    ("runway", "gen4_turbo", "runway"), ("runway", "veo3.1", "veo"), ("luma", "ray-2", "generic"),
    ("diffusers", "Wan-AI/Wan2.1-T2V-1.3B-Diffusers", "wan"), ("diffusers", "Lightricks/LTX-Video", "ltx"),
    ("replicate", "wan-video/wan-2.2-t2v-fast", "wan"), ("fal", "fal-ai/ltx-video", "ltx"),
    ("replicate", "xai/grok-imagine-r2v", "grok"), ("diffusers", "THUDM/CogVideoX-2b", "generic"),
    ("animatic", "", "generic"), ("fal:fal-ai/wan-i2v", "", "wan"), ("something-new", "", "generic"),
])
def test_style_for_generator(name, model, style):
    assert style_for_generator(name, model) == style


@pytest.mark.parametrize("style", STYLES)
def test_every_style_has_written_instructions(style):
    text = load_style_instructions(style)
    assert text.startswith("# ")
    assert "## Never" in text and "## Example" in text
    assert len(text.split()) > 150


def test_instructions_state_the_key_rules():
    assert "80 to 200 words" in load_style_instructions("wan")
    assert "at most 200 words" in load_style_instructions("ltx")
    assert "<IMAGE_1>" in load_style_instructions("grok")
    assert '"the subject"' in load_style_instructions("runway")
    assert "SFX:" in load_style_instructions("veo")


def test_unknown_style_is_a_config_error():
    with pytest.raises(ConfigError, match="sora"):
        load_style_instructions("sora")


@pytest.mark.parametrize("style", STYLES)
def test_the_beat_subject_and_setting_survive_in_every_style(style):
    prompt, _ = _prompt(style)
    assert "getting a pup cup" in prompt
    assert "dog" in prompt.lower()
    assert "in a cosy coffee shop" in prompt


@pytest.mark.parametrize("style", STYLES)
def test_a_beat_with_its_own_pronoun_survives_and_keeps_the_subject(style):
    prompt, _ = _prompt(style, subject="a lighthouse keeper", action="she reads the letter by candlelight")
    assert "she reads the letter by candlelight" in prompt.lower()
    assert "lighthouse keeper" in prompt.lower()


@pytest.mark.parametrize("style", STYLES)
def test_duration_size_and_model_never_appear_as_prose(style):
    prompt, negative = _prompt(style)
    assert not PROSE_PARAMETERS.search(prompt), prompt
    assert not PROSE_PARAMETERS.search(negative)


@pytest.mark.parametrize("style", STYLES)
def test_negative_prompt_only_where_the_style_takes_one(style):
    _, negative = _prompt(style)
    assert bool(negative) == uses_negative(style) == (style in ("wan", "ltx", "veo"))


@pytest.mark.parametrize("style", STYLES)
def test_prompts_are_deterministic(style):
    assert _prompt(style) == _prompt(style)


def test_wan_puts_style_first_within_80_to_200_words():
    prompt, negative = _prompt("wan", style_words=["anime"])
    assert prompt.startswith("Anime style")
    assert 80 <= len(prompt.split()) <= 200
    assert "close-up" in prompt and "warm window light" in prompt  # cinematic tags
    assert {"blurry", "static frame", "extra fingers"} <= {t.strip() for t in negative.split(",")}


def test_wan_stays_within_200_words_with_a_long_beat():
    action = "running along the shore " + " ".join(f"past boat {i}" for i in range(40))
    prompt, _ = _prompt("wan", action=action)
    assert action in prompt
    assert len(prompt.split()) <= 200


def test_ltx_is_one_literal_paragraph_that_starts_with_the_action():
    prompt, negative = _prompt("ltx")
    assert "\n" not in prompt
    assert prompt.startswith("A dog is getting a pup cup")
    assert len(prompt.split()) <= 200
    assert "worst quality" in negative


def test_veo_has_camera_ambiance_and_audio_lines():
    prompt, negative = _prompt("veo")
    assert "Camera:" in prompt and "Ambiance:" in prompt
    assert "SFX:" in prompt and "Ambient:" in prompt
    assert not re.search(r"\bno\b", negative, re.I)  # a list of things, not "no …"


def test_veo_without_audio_has_no_audio_line():
    prompt, _ = _prompt("veo", audio=False)
    assert "Audio:" not in prompt


def test_veo_puts_quoted_dialogue_in_the_audio_line():
    prompt, _ = _prompt("veo", subject="a barista", action='saying "one pup cup, coming up"')
    assert 'A barista says, "one pup cup, coming up"' in prompt


def test_runway_describes_motion_positively_about_the_subject():
    prompt, negative = _prompt("runway")
    assert negative == ""
    assert prompt.startswith("The subject, a dog, is getting a pup cup")
    assert "camera" in prompt.lower()
    assert not re.search(r"\b(?:no|not|never|without|avoid)\b|n't", prompt, re.I)
    assert len(prompt) <= 1000


def test_runway_stays_under_1000_characters():
    prompt, _ = _prompt("runway", setting="in a " + "very " * 150 + "long hall")
    assert len(prompt) <= 1000
    assert "getting a pup cup" in prompt


def test_grok_names_reference_images_in_order():
    prompt, negative = _prompt("grok", subject="Biscuit, a small tan dog", action="meeting Luna at the park gate",
                               references=["Biscuit", "Luna"])
    assert negative == ""
    assert prompt.index("Biscuit (<IMAGE_1>)") < prompt.index("Luna (<IMAGE_2>)")


def test_grok_names_a_reference_the_text_does_not_mention():
    prompt, _ = _prompt("grok", references=["red ball"])
    assert "Red ball appears as shown in <IMAGE_1>." in prompt


def test_grok_without_references_has_no_image_tokens():
    prompt, _ = _prompt("grok")
    assert "<IMAGE" not in prompt


def test_grok_describes_sound_only_when_audio_is_on():
    assert "Sound:" in _prompt("grok", audio=True)[0]
    assert "Sound:" not in _prompt("grok", audio=False)[0]


def test_grok_is_a_dense_caption():
    prompt, _ = _prompt("grok")
    assert 80 <= len(prompt.split()) <= 200


def test_reference_names_appear_in_non_grok_styles_without_tokens():
    for style in ("wan", "veo", "generic"):
        prompt, _ = _prompt(style, references=["Biscuit"])
        assert "reference image" in prompt and "<IMAGE" not in prompt
