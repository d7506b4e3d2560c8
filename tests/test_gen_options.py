"""Every backend's options are typed: a misspelt or unknown option is one ConfigError line naming the valid ones."""

from __future__ import annotations

import json
from fractions import Fraction

import pytest

from reelwright.errors import ConfigError, UserError
from reelwright.generators.registry import get_generator, load_class

HOSTED = ["xai", "veo", "replicate", "fal", "runway", "luma"]


def diffusers_folder(tmp_path) -> str:
    (tmp_path / "model_index.json").write_text(json.dumps({"_class_name": "WanPipeline"}))
    return str(tmp_path)


def spec_for(name: str, tmp_path) -> str:
    return f"diffusers:{diffusers_folder(tmp_path)}" if name == "diffusers" else name


@pytest.mark.parametrize("name", [*HOSTED, "diffusers"])
def test_a_misspelt_option_is_one_line_naming_it_and_every_valid_option(name, tmp_path):
    with pytest.raises(ConfigError) as info:
        get_generator(spec_for(name, tmp_path), pol_intervall=1)
    message = str(info.value)
    assert "\n" not in message
    assert f"unknown {name} option 'pol_intervall'" in message
    valid = load_class(name).Options.names()
    assert valid and all(option in message for option in valid)
    assert isinstance(info.value, UserError)  # the CLI prints a UserError as one line, exit code 2


@pytest.mark.parametrize("name", HOSTED)
def test_a_near_miss_suggests_the_option_meant(name):
    with pytest.raises(ConfigError, match=r"did you mean 'deadline_s'\?"):
        get_generator(name, deadline=30)


def test_a_backend_without_options_says_it_takes_none():
    with pytest.raises(ConfigError, match="animatic takes no options, got 'steps'"):
        get_generator("animatic", steps=4)


@pytest.mark.parametrize("name, option, value, expected", [
    ("xai", "poll_interval", "soon", "xai option poll_interval: Input should be a valid number"),
    ("veo", "transport", "grpc", "veo option transport: Input should be 'rest' or 'vertex'"),
    ("replicate", "file_encoding", "zip", "replicate option file_encoding: Input should be 'auto', 'base64' or 'url'"),
    ("replicate", "wait", 600, "replicate option wait: Input should be less than or equal to 60"),
    ("fal", "upload", "ftp", "fal option upload: Input should be 'data_uri' or 'storage'"),
    ("runway", "prompt_limit", 0, "runway option prompt_limit: Input should be greater than or equal to 1"),
    ("luma", "extend_result", "both", "luma option extend_result: Input should be 'auto', 'includes_source' or"),
    ("luma", "image_url", "https://cdn.example/x.png", "luma option image_url: Input should be callable"),
])
def test_a_bad_value_names_the_option_and_what_it_takes(name, option, value, expected):
    with pytest.raises(ConfigError) as info:
        get_generator(name, **{option: value})
    assert str(info.value).startswith(expected)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("name", HOSTED)
def test_shared_job_options_take_effect(name):
    gen = get_generator(name, concurrency=5, rate_per_s=3, poll_interval=0.5)
    assert gen.capabilities().concurrency == 5
    assert gen.opts.poll_interval == 0.5 and gen.opts.make_limiter().rate == 3


def test_option_values_are_parsed_to_their_types():
    xai = get_generator("xai", max_edit_input="8.7", max_extend_input=12)
    assert xai.max_edit_input == Fraction(87, 10) and xai.max_extend_input == Fraction(12)
    luma = get_generator("luma", durations=["5", 9])
    assert luma.capabilities().durations == [Fraction(5), Fraction(9)]
