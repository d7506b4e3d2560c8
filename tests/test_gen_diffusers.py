"""The diffusers generator: tiny random-weight Wan pipelines saved with save_pretrained and loaded through
the adapter's own loading code, encoded clips probed with PyAV; presets and rules without weights."""

from __future__ import annotations

import importlib.util
import json
import sys
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from reelwright.errors import BriefError, ConfigError, InputFileError, MissingDependencyError
from reelwright.generators import get_generator
from reelwright.generators.base import ClipRequest, ReferenceImage
from reelwright.generators.diffusers import DiffusersGenerator
from reelwright.generators.diffusers_presets import PRESETS

sys.path.insert(0, str(Path(__file__).parent))

HAVE_STACK = all(importlib.util.find_spec(m) for m in ("torch", "diffusers", "transformers", "tokenizers"))
needs_torch = pytest.mark.skipif(not HAVE_STACK, reason="torch/diffusers/transformers not installed (reelwright[diffusers])")


def fake_model(tmp_path: Path, class_name: str, name: str = "model", **config) -> Path:
    """A folder with only model_index.json: enough for presets and capabilities, which load no weights."""
    folder = tmp_path / name
    folder.mkdir()
    (folder / "model_index.json").write_text(json.dumps({"_class_name": class_name, **config}))
    return folder


def request(out: Path, *, seconds=Fraction(9, 16), width=16, height=16, seed=0, **kw) -> ClipRequest:
    return ClipRequest(shot_id="s1", prompt="a dog walks in the park", duration=seconds, width=width, height=height,
                       aspect="1:1", fps=Fraction(16), seed=seed, out_path=out, **kw)


def decode(path: Path) -> np.ndarray:
    with av.open(str(path)) as container:
        return np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])


@pytest.fixture(scope="module")
def tiny_wan(tmp_path_factory) -> Path:
    if not HAVE_STACK:
        pytest.skip("torch/diffusers not installed")
    from tiny_pipelines import build_tiny_wan

    return build_tiny_wan(tmp_path_factory.mktemp("models") / "tiny-wan")


@pytest.fixture(scope="module")
def tiny_wan_i2v(tmp_path_factory) -> Path:
    if not HAVE_STACK:
        pytest.skip("torch/diffusers not installed")
    from tiny_pipelines import build_tiny_wan_i2v

    return build_tiny_wan_i2v(tmp_path_factory.mktemp("models") / "tiny-wan-i2v")


@pytest.fixture(scope="module")
def tiny_wan_vace(tmp_path_factory) -> Path:
    if not HAVE_STACK:
        pytest.skip("torch/diffusers not installed")
    from tiny_pipelines import build_tiny_wan_vace

    return build_tiny_wan_vace(tmp_path_factory.mktemp("models") / "tiny-wan-vace")


@pytest.fixture(scope="module")
def tiny_ltx(tmp_path_factory) -> Path:
    if not HAVE_STACK:
        pytest.skip("torch/diffusers not installed")
    from tiny_pipelines import build_tiny_ltx

    return build_tiny_ltx(tmp_path_factory.mktemp("models") / "tiny-ltx")


@pytest.fixture(scope="module")
def tiny_ltx_condition(tmp_path_factory) -> Path:
    if not HAVE_STACK:
        pytest.skip("torch/diffusers not installed")
    from tiny_pipelines import build_tiny_ltx

    return build_tiny_ltx(tmp_path_factory.mktemp("models") / "tiny-ltx-condition", condition=True)


@pytest.fixture
def red_and_blue(tmp_path) -> tuple[Path, Path]:
    from PIL import Image

    red, blue = tmp_path / "red.png", tmp_path / "blue.png"
    Image.new("RGB", (40, 30), (230, 20, 20)).save(red)
    Image.new("RGB", (40, 30), (20, 20, 230)).save(blue)
    return red, blue


# --- clips from a tiny Wan pipeline -------------------------------------------------------------------

@needs_torch
def test_tiny_wan_clip_is_h264_at_native_fps_with_silent_aac(tiny_wan, tmp_path):
    gen = get_generator(f"diffusers:{tiny_wan}", steps=2)
    result = gen.generate(request(tmp_path / "clip.mp4"))
    with av.open(str(result.path)) as container:
        v, a = container.streams.video[0], container.streams.audio[0]
        assert (v.codec_context.name, v.codec_context.pix_fmt) == ("h264", "yuv420p")
        assert (v.codec_context.width, v.codec_context.height) == (16, 16)
        assert v.average_rate == 16
        assert a.codec_context.name == "aac" and a.codec_context.channels == 2
    assert decode(result.path).shape == (9, 16, 16, 3)
    assert result.duration == Fraction(9, 16)
    assert result.metadata["pipeline"] == "WanPipeline" and result.metadata["steps"] == 2
    assert result.cost_usd == 0.0


@needs_torch
def test_clip_without_audio_has_no_audio_stream(tiny_wan, tmp_path):
    result = DiffusersGenerator(model=str(tiny_wan), steps=2).generate(request(tmp_path / "a.mp4", audio=False))
    with av.open(str(result.path)) as container:
        assert len(container.streams.audio) == 0


@needs_torch
def test_same_seed_gives_the_same_frames(tiny_wan, tmp_path):
    gen = DiffusersGenerator(model=str(tiny_wan), steps=2)
    first = decode(gen.generate(request(tmp_path / "a.mp4", seed=7)).path)
    second = decode(gen.generate(request(tmp_path / "b.mp4", seed=7)).path)
    assert np.array_equal(first, second)


@needs_torch
def test_a_different_seed_changes_the_frames(tiny_wan, tmp_path):
    gen = DiffusersGenerator(model=str(tiny_wan), steps=2)
    first = decode(gen.generate(request(tmp_path / "a.mp4", seed=7)).path).astype(int)
    other = decode(gen.generate(request(tmp_path / "b.mp4", seed=8)).path).astype(int)
    assert np.abs(first - other).mean() > 0.5


@needs_torch
def test_progress_is_reported_for_every_step(tiny_wan, tmp_path):
    seen: list[tuple[float, str]] = []
    DiffusersGenerator(model=str(tiny_wan), steps=3).generate(request(tmp_path / "a.mp4"),
                                                              lambda f, m: seen.append((f, m)))
    steps = [m for _, m in seen if m.startswith("step ")]
    assert steps == ["step 1/3", "step 2/3", "step 3/3"]
    fractions = [f for f, _ in seen]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0


@needs_torch
def test_duration_between_frame_counts_rounds_up_to_the_frame_rule(tiny_wan, tmp_path):
    # 10/16 s is 10 frames; Wan makes 4k+1, so 13 frames come back and the Director trims.
    result = DiffusersGenerator(model=str(tiny_wan), steps=1).generate(request(tmp_path / "a.mp4",
                                                                               seconds=Fraction(10, 16)))
    assert decode(result.path).shape[0] == 13
    assert result.metadata["adjusted"]["frames"].startswith("10 -> 13")


@needs_torch
def test_loaded_pipeline_is_reused_across_generators(tiny_wan, tmp_path, monkeypatch):
    import diffusers

    from reelwright.generators import diffusers as adapter

    adapter._CACHE.clear()
    calls = []
    real = diffusers.DiffusionPipeline.from_pretrained.__func__

    def counting(cls, *args, **kw):
        calls.append(args[0])
        return real(cls, *args, **kw)

    monkeypatch.setattr(diffusers.DiffusionPipeline, "from_pretrained", classmethod(counting))
    DiffusersGenerator(model=str(tiny_wan), steps=1).generate(request(tmp_path / "a.mp4"))
    DiffusersGenerator(model=str(tiny_wan), steps=1).generate(request(tmp_path / "b.mp4"))
    assert len(calls) == 1


def spy(monkeypatch, cls, method: str) -> list[dict]:
    """Record the arguments a real pipeline stage receives (it still runs). Random weights barely react to
    image content, so what the model is conditioned on is read where the pipeline takes it in."""
    import inspect

    real = getattr(cls, method)
    calls: list[dict] = []

    def recording(self, *args, **kw):
        calls.append(inspect.signature(real).bind(self, *args, **kw).arguments)
        return real(self, *args, **kw)

    monkeypatch.setattr(cls, method, recording)
    return calls


def colour(image) -> str:
    """'red' or 'blue' for a PIL image or a [-1, 1] tensor (B, C, H, W) that is mostly one of them."""
    arr = np.asarray(image, dtype=float) if not hasattr(image, "detach") else image.detach().float().numpy()[0]
    r, b = (arr[..., 0].mean(), arr[..., 2].mean()) if arr.shape[-1] == 3 else (arr[0].mean(), arr[2].mean())
    return "red" if r > b else "blue"


@needs_torch
def test_first_and_last_frames_condition_a_wan_i2v_clip(tiny_wan_i2v, tmp_path, red_and_blue, monkeypatch):
    from diffusers import WanImageToVideoPipeline

    red, blue = red_and_blue
    calls = spy(monkeypatch, WanImageToVideoPipeline, "prepare_latents")
    result = DiffusersGenerator(model=str(tiny_wan_i2v), steps=2).generate(
        request(tmp_path / "a.mp4", image=red, last_image=blue))
    assert decode(result.path).shape == (9, 16, 16, 3)
    assert (colour(calls[0]["image"]), colour(calls[0]["last_image"])) == ("red", "blue")
    assert tuple(calls[0]["image"].shape[-2:]) == (16, 16)  # the 40x30 image was fitted to the clip


@needs_torch
def test_last_frame_changes_a_wan_i2v_clip(tiny_wan_i2v, tmp_path, red_and_blue):
    red, blue = red_and_blue
    gen = DiffusersGenerator(model=str(tiny_wan_i2v), steps=2)
    plain = decode(gen.generate(request(tmp_path / "p.mp4", image=red)).path).astype(int)
    to_blue = decode(gen.generate(request(tmp_path / "l.mp4", image=red, last_image=blue)).path).astype(int)
    assert not np.array_equal(plain, to_blue)


@needs_torch
def test_reference_images_and_first_frame_reach_a_vace_clip(tiny_wan_vace, tmp_path, red_and_blue, monkeypatch):
    from diffusers import WanVACEPipeline

    red, blue = red_and_blue
    calls = spy(monkeypatch, WanVACEPipeline, "preprocess_conditions")
    gen = DiffusersGenerator(model=str(tiny_wan_vace), steps=2)
    gen.generate(request(tmp_path / "a.mp4", image=red, references=[ReferenceImage(path=blue, name="blue")]))
    args = calls[0]
    assert [colour(im) for im in args["reference_images"]] == ["blue"]
    assert len(args["video"]) == len(args["mask"]) == 9
    assert colour(args["video"][0]) == "red" and np.asarray(args["mask"][0]).max() == 0  # kept
    assert np.asarray(args["mask"][1]).min() == 255  # generated


@needs_torch
def test_reference_image_changes_a_vace_clip(tiny_wan_vace, tmp_path, red_and_blue):
    gen = DiffusersGenerator(model=str(tiny_wan_vace), steps=2)
    plain = decode(gen.generate(request(tmp_path / "p.mp4")).path).astype(int)
    with_ref = decode(gen.generate(request(tmp_path / "r.mp4",
                                           references=[ReferenceImage(path=red_and_blue[1])])).path)
    assert with_ref.shape == plain.shape
    assert np.abs(plain - with_ref.astype(int)).mean() > 0.5


@needs_torch
def test_ltx_text_model_takes_a_first_frame_through_its_i2v_sibling(tiny_ltx, tmp_path, red_and_blue, monkeypatch):
    from diffusers import LTXImageToVideoPipeline

    calls = spy(monkeypatch, LTXImageToVideoPipeline, "prepare_latents")
    result = DiffusersGenerator(model=str(tiny_ltx), steps=2).generate(
        request(tmp_path / "a.mp4", seconds=Fraction(9, 25), width=32, height=32, image=red_and_blue[0]))
    assert result.metadata["pipeline"] == "LTXImageToVideoPipeline"
    assert colour(calls[0]["image"]) == "red"
    with av.open(str(result.path)) as container:
        assert container.streams.video[0].average_rate == 25
    assert decode(result.path).shape == (9, 32, 32, 3)


@needs_torch
def test_distilled_ltx_runs_its_8_step_schedule_with_first_and_last_keyframes(tiny_ltx_condition, tmp_path,
                                                                               red_and_blue, monkeypatch):
    from diffusers import LTXConditionPipeline

    red, blue = red_and_blue
    calls = spy(monkeypatch, LTXConditionPipeline, "prepare_latents")
    steps: list[str] = []
    result = DiffusersGenerator(model=str(tiny_ltx_condition), preset="ltx-distilled").generate(
        request(tmp_path / "a.mp4", seconds=Fraction(9, 25), width=32, height=32, image=red, last_image=blue),
        lambda f, m: steps.append(m) if m.startswith("step ") else None)
    assert steps[-1] == "step 8/8" and result.metadata["guidance"] == 1.0
    assert [colour(c) for c in calls[0]["conditions"]] == ["red", "blue"]
    assert calls[0]["condition_frame_index"] == [0, 8]


@needs_torch
def test_i2v_model_refuses_a_text_only_request(tiny_wan_i2v, tmp_path):
    with pytest.raises(BriefError, match="needs a first-frame image"):
        DiffusersGenerator(model=str(tiny_wan_i2v)).generate(request(tmp_path / "a.mp4"))


@needs_torch
def test_without_cuda_it_runs_float32_on_cpu(tiny_wan, tmp_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("a CUDA GPU is present")
    result = DiffusersGenerator(model=str(tiny_wan), steps=1).generate(request(tmp_path / "a.mp4"))
    assert (result.metadata["device"], result.metadata["dtype"]) == ("cpu", "float32")


@needs_torch
def test_dtype_option_sets_the_precision_the_weights_run_in(tiny_wan, tmp_path):
    result = DiffusersGenerator(model=str(tiny_wan), steps=1, device="cpu", dtype="bf16").generate(
        request(tmp_path / "a.mp4"))
    assert result.metadata["dtype"] == "bfloat16"
    assert decode(result.path).shape == (9, 16, 16, 3)


@needs_torch
def test_cuda_device_without_a_gpu_is_a_config_error(tiny_wan, tmp_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("a CUDA GPU is present")
    with pytest.raises(ConfigError, match="device=cuda but torch sees no CUDA GPU"):
        DiffusersGenerator(model=str(tiny_wan), device="cuda").generate(request(tmp_path / "a.mp4"))


@needs_torch
def test_uncached_hub_id_fails_with_one_clear_line(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    gen = DiffusersGenerator(model="reelwright-tests/Wan2.1-T2V-not-downloaded")
    with pytest.raises(ConfigError, match="not in the Hugging Face cache.*download it first") as err:
        gen.generate(request(tmp_path / "a.mp4"))
    assert "\n" not in str(err.value)


def test_missing_torch_names_the_extra_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)
    gen = DiffusersGenerator(model=str(fake_model(tmp_path, "WanPipeline")))
    with pytest.raises(MissingDependencyError, match=r"pip install 'reelwright\[diffusers\]'"):
        gen.generate(request(tmp_path / "a.mp4"))


# --- presets, rules and capabilities (no weights) ------------------------------------------------------

@pytest.mark.parametrize("class_name, config, name, preset", [
    ("WanPipeline", {}, "wan", "wan2.1"),
    ("WanPipeline", {"expand_timesteps": True}, "wan", "wan2.2-ti2v-5b"),
    ("WanPipeline", {"boundary_ratio": 0.875}, "wan", "wan2.2-a14b"),
    ("WanPipeline", {}, "Wan2.1-T2V-14B-lightx2v", "wan2.1-lightx2v"),
    ("LTXPipeline", {}, "ltx", "ltx"),
    ("LTXConditionPipeline", {}, "LTX-Video-0.9.8-13B-distilled", "ltx-distilled"),
    ("CogVideoXPipeline", {}, "CogVideoX-2b", "cogvideox"),
    ("CogVideoXPipeline", {}, "CogVideoX1.5-5B", "cogvideox1.5"),
    ("HunyuanVideoPipeline", {}, "hv", "hunyuan"),
])
def test_preset_follows_model_index_and_name(tmp_path, class_name, config, name, preset):
    gen = DiffusersGenerator(model=str(fake_model(tmp_path, class_name, name, **config)))
    assert gen.preset.name == preset


def test_preset_option_overrides_detection(tmp_path):
    gen = DiffusersGenerator(model=str(fake_model(tmp_path, "LTXPipeline")), preset="ltx-distilled")
    assert (gen.preset.steps, gen.preset.guidance) == (8, 1.0)


def test_hub_id_not_cached_is_recognised_by_name():
    gen = DiffusersGenerator(model="Lightricks/LTX-Video-0.9.7-distilled")
    assert gen.preset.name == "ltx-distilled" and gen.source.local is False


@pytest.mark.parametrize("preset, seconds, frames", [
    ("wan2.1", Fraction(1), 17),  # 16 frames -> 4k+1
    ("wan2.1", Fraction(81, 16), 81),
    ("ltx", Fraction(2), 57),  # 50 frames -> 8k+1
    ("cogvideox", Fraction(3), 25),  # 24 frames -> 8k+1
    ("cogvideox1.5", Fraction(5), 81),  # 80 frames -> 16k+1
    ("hunyuan", Fraction(4), 61),  # 60 frames -> 4k+1
    ("wan2.2-ti2v-5b", Fraction(5), 121),
])
def test_frames_snap_up_to_the_family_rule(tmp_path, preset, seconds, frames):
    gen = DiffusersGenerator(model=str(fake_model(tmp_path, "WanPipeline")), preset=preset)
    assert gen.plan(request(tmp_path / "a.mp4", seconds=seconds)).frames == frames


def test_too_long_a_clip_is_refused_quoting_the_limit(tmp_path):
    gen = DiffusersGenerator(model=str(fake_model(tmp_path, "WanPipeline")))
    with pytest.raises(BriefError, match="at most 81 frames"):
        gen.plan(request(tmp_path / "a.mp4", seconds=Fraction(6)))


def test_large_request_is_scaled_to_native_area_keeping_aspect(tmp_path):
    gen = DiffusersGenerator(model=str(fake_model(tmp_path, "WanPipeline")))
    plan = gen.plan(request(tmp_path / "a.mp4", width=1280, height=720))
    assert plan.width % 16 == 0 and plan.height % 16 == 0
    assert plan.width * plan.height <= 480 * 832
    assert abs(plan.width / plan.height - 16 / 9) < 0.05
    assert plan.adjusted["size"] == f"1280x720 -> {plan.width}x{plan.height}"


def test_small_request_size_is_rounded_to_the_multiple_and_recorded(tmp_path):
    gen = DiffusersGenerator(model=str(fake_model(tmp_path, "LTXPipeline")))
    plan = gen.plan(request(tmp_path / "a.mp4", width=320, height=180))
    assert (plan.width, plan.height) == (320, 192)
    assert plan.adjusted["size"] == "320x180 -> 320x192"


def test_explicit_size_off_the_multiple_is_an_error_not_a_rounding(tmp_path):
    gen = DiffusersGenerator(model=str(fake_model(tmp_path, "LTXPipeline")), height=500, width=704)
    with pytest.raises(BriefError, match="500.*multiples of 32|704x500"):
        gen.plan(request(tmp_path / "a.mp4"))


def test_options_override_steps_and_guidance(tmp_path):
    gen = DiffusersGenerator(model=str(fake_model(tmp_path, "WanPipeline")), steps=6, guidance=2.5)
    plan = gen.plan(request(tmp_path / "a.mp4"))
    assert (plan.steps, plan.guidance) == (6, 2.5)


def test_capabilities_declare_wan_durations_from_4k_plus_1_frames(tmp_path):
    caps = DiffusersGenerator(model=str(fake_model(tmp_path, "WanPipeline"))).capabilities()
    assert caps.allowed_durations() == [Fraction(4 * k + 1, 16) for k in range(4, 21)]
    assert caps.fps == [Fraction(16)]
    assert (caps.local, caps.price_per_second, caps.concurrency) == (True, 0.0, 1)
    assert caps.text_to_video and not caps.image_to_video and not caps.reference_images


@pytest.mark.parametrize("class_name, t2v, i2v, last, refs", [
    ("WanImageToVideoPipeline", False, True, True, False),
    ("WanVACEPipeline", True, True, True, True),
    ("LTXPipeline", True, True, False, False),
    ("LTXConditionPipeline", True, True, True, False),
    ("CogVideoXImageToVideoPipeline", False, True, False, False),
])
def test_capabilities_follow_the_pipeline_class(tmp_path, class_name, t2v, i2v, last, refs):
    caps = DiffusersGenerator(model=str(fake_model(tmp_path, class_name))).capabilities()
    assert (caps.text_to_video, caps.image_to_video, caps.last_frame, caps.reference_images) == (t2v, i2v, last, refs)


def test_every_preset_declares_durations_of_allowed_frame_counts():
    for preset in PRESETS.values():
        durations = preset.durations()
        assert durations and durations[0] >= 1
        for d in durations:
            frames = d * preset.fps
            assert frames.denominator == 1 and (frames - 1) % preset.frame_step == 0 and frames <= preset.max_frames


def test_missing_model_folder_is_an_input_file_error(tmp_path):
    with pytest.raises(InputFileError, match="not found"):
        get_generator(f"diffusers:{tmp_path / 'nope'}")


def test_folder_without_model_index_is_an_input_file_error(tmp_path):
    with pytest.raises(InputFileError, match="no model_index.json"):
        DiffusersGenerator(model=str(tmp_path))


def test_unsupported_pipeline_class_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="StableDiffusionPipeline"):
        DiffusersGenerator(model=str(fake_model(tmp_path, "StableDiffusionPipeline")))


def test_unknown_option_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="stepz"):
        DiffusersGenerator(model=str(fake_model(tmp_path, "WanPipeline")), stepz=4)


def test_unknown_preset_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="unknown diffusers preset 'wan9'"):
        DiffusersGenerator(model=str(fake_model(tmp_path, "WanPipeline")), preset="wan9")


def test_text_only_model_refuses_a_first_frame(tmp_path, red_and_blue):
    gen = DiffusersGenerator(model=str(fake_model(tmp_path, "WanPipeline")))
    with pytest.raises(BriefError, match="text-to-video only"):
        gen.generate(request(tmp_path / "a.mp4", image=red_and_blue[0]))


def test_only_vace_models_declare_reference_images(tmp_path):
    assert DiffusersGenerator(model=str(fake_model(tmp_path, "WanPipeline"))).capabilities().max_references == 0
    vace = DiffusersGenerator(model=str(fake_model(tmp_path, "WanVACEPipeline", "vace"))).capabilities()
    assert vace.reference_images and vace.max_references == 3
