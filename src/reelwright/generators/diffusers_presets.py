"""Presets for local open video models run through diffusers: default size, frames, steps, guidance,
native fps and the size/frame rules of each family, plus how a pipeline class maps to a family.

Pure data and arithmetic (no torch): capabilities are answered without loading a model."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from ..errors import BriefError, ConfigError

# A generic negative prompt for families whose guides ask for one (Wan); used when the request has none.
WAN_NEGATIVE = ("blurry, static, still picture, over-saturated, overexposed, low quality, worst quality, "
                "JPEG artefacts, subtitles, watermark, extra fingers, poorly drawn hands, poorly drawn face, "
                "deformed, disfigured, fused fingers, messy background, walking backwards")
LTX_NEGATIVE = "worst quality, inconsistent motion, blurry, jittery, distorted"


@dataclass(frozen=True)
class Preset:
    """How one model (or checkpoint variant) is best run. Sizes are H×W in pixels."""

    name: str
    family: str  # wan | ltx | cogvideox | hunyuan
    label: str
    height: int
    width: int
    frames: int  # default frame count
    max_frames: int
    steps: int
    guidance: float
    fps: Fraction  # native frame rate: frames are encoded at this rate
    multiple: int  # H and W must be multiples of this (VAE spatial factor × patch size)
    frame_step: int  # frame counts are frame_step·k + 1
    vae_spatial: int
    vae_temporal: int
    negative_prompt: str = ""
    call_extra: dict[str, Any] = field(default_factory=dict)  # family-specific __call__ kwargs
    hub_ids: tuple[str, ...] = ()
    notes: str = ""

    @property
    def resolution(self) -> str:
        return f"{min(self.height, self.width)}p"

    def allowed_frames(self, lo: int = 1) -> list[int]:
        """Frame counts the model makes, from the first ≥ lo up to max_frames."""
        first = max(0, math.ceil((lo - 1) / self.frame_step))
        return [self.frame_step * k + 1 for k in range(first, (self.max_frames - 1) // self.frame_step + 1)]

    def snap_frames(self, wanted: int) -> int:
        """The smallest allowed frame count ≥ wanted (so the Director can trim, never pad)."""
        if wanted < 1:
            raise BriefError(f"a clip needs at least one frame, got {wanted}")
        k = math.ceil((wanted - 1) / self.frame_step)
        frames = self.frame_step * k + 1
        if frames > self.max_frames:
            raise BriefError(f"{self.label} makes at most {self.max_frames} frames "
                             f"({float(self.max_frames / self.fps):.2f} s at {self.fps} fps); {wanted} frames were asked")
        return frames

    def durations(self) -> list[Fraction]:
        """Clip lengths declared to the planner: every allowed frame count of at least one second."""
        return [Fraction(n) / self.fps for n in self.allowed_frames(lo=math.ceil(self.fps))]


_WAN = dict(family="wan", multiple=16, frame_step=4, vae_spatial=8, vae_temporal=4, negative_prompt=WAN_NEGATIVE)
_LTX = dict(family="ltx", multiple=32, frame_step=8, vae_spatial=32, vae_temporal=8, negative_prompt=LTX_NEGATIVE,
            fps=Fraction(25))
# decode_timestep/decode_noise_scale: recommended for the timestep-aware VAE of LTX 0.9.1+, ignored by 0.9.0.
_LTX_DECODE = {"decode_timestep": 0.05, "decode_noise_scale": 0.025}

PRESETS: dict[str, Preset] = {p.name: p for p in [
    Preset("wan2.1", label="Wan 2.1", height=480, width=832, frames=81, max_frames=81, steps=50, guidance=5.0,
           fps=Fraction(16), hub_ids=("Wan-AI/Wan2.1-T2V-1.3B-Diffusers", "Wan-AI/Wan2.1-T2V-14B-Diffusers",
                                      "Wan-AI/Wan2.1-I2V-14B-480P-Diffusers", "Wan-AI/Wan2.1-I2V-14B-720P-Diffusers",
                                      "Wan-AI/Wan2.1-FLF2V-14B-720P-diffusers", "Wan-AI/Wan2.1-VACE-1.3B-diffusers",
                                      "Wan-AI/Wan2.1-VACE-14B-diffusers"), **_WAN),
    Preset("wan2.1-lightx2v", label="Wan 2.1 + LightX2V step-distill LoRA", height=480, width=832, frames=81,
           max_frames=81, steps=4, guidance=1.0, fps=Fraction(16),
           notes="needs the LightX2V LoRA: pass lora=PATH_OR_REPO (and lora_weight_name=FILE)", **_WAN),
    Preset("wan2.2-ti2v-5b", label="Wan 2.2 TI2V-5B", height=704, width=1280, frames=121, max_frames=121, steps=50,
           guidance=5.0, fps=Fraction(24), hub_ids=("Wan-AI/Wan2.2-TI2V-5B-Diffusers",),
           **{**_WAN, "multiple": 32, "vae_spatial": 16}),
    Preset("wan2.2-a14b", label="Wan 2.2 A14B", height=720, width=1280, frames=81, max_frames=81, steps=40,
           guidance=4.0, fps=Fraction(16), call_extra={"guidance_scale_2": 3.0},
           hub_ids=("Wan-AI/Wan2.2-T2V-A14B-Diffusers", "Wan-AI/Wan2.2-I2V-A14B-Diffusers"), **_WAN),
    Preset("ltx", label="LTX-Video", height=512, width=704, frames=161, max_frames=161, steps=50, guidance=3.0,
           call_extra=dict(_LTX_DECODE), hub_ids=("Lightricks/LTX-Video", "Lightricks/LTX-Video-0.9.5",
                                                  "Lightricks/LTX-Video-0.9.7-dev"), **_LTX),
    # Distilled 0.9.7/0.9.8: guidance- and timestep-distilled; the schedule is the one Lightricks recommends.
    Preset("ltx-distilled", label="LTX-Video 0.9.7/0.9.8 distilled", height=512, width=704, frames=161,
           max_frames=257, steps=8, guidance=1.0,
           call_extra={**_LTX_DECODE, "timesteps": [1000, 993, 987, 981, 975, 909, 725, 0.03],
                       "image_cond_noise_scale": 0.0},
           hub_ids=("Lightricks/LTX-Video-0.9.7-distilled", "Lightricks/LTX-Video-0.9.8-13B-distilled"), **_LTX),
    # CogVideoX 1.0 makes 8k+1 frames (k ≤ 6) at 8 fps; H, W are multiples of 16, not 8: the VAE's 8
    # times the transformer's 2×2 patch (an odd latent side would be cut by the patch embedding).
    Preset("cogvideox", family="cogvideox", label="CogVideoX", height=480, width=720, frames=49, max_frames=49,
           steps=50, guidance=6.0, fps=Fraction(8), multiple=16, frame_step=8, vae_spatial=8, vae_temporal=4,
           hub_ids=("THUDM/CogVideoX-2b", "THUDM/CogVideoX-5b", "THUDM/CogVideoX-5b-I2V")),
    Preset("cogvideox1.5", family="cogvideox", label="CogVideoX 1.5", height=768, width=1360, frames=81,
           max_frames=161, steps=50, guidance=6.0, fps=Fraction(16), multiple=16, frame_step=16, vae_spatial=8,
           vae_temporal=4, hub_ids=("THUDM/CogVideoX1.5-5B", "THUDM/CogVideoX1.5-5B-I2V")),
    Preset("hunyuan", family="hunyuan", label="HunyuanVideo", height=720, width=1280, frames=129, max_frames=129,
           steps=50, guidance=6.0, fps=Fraction(15), multiple=16, frame_step=4, vae_spatial=8, vae_temporal=4,
           hub_ids=("hunyuanvideo-community/HunyuanVideo", "hunyuanvideo-community/HunyuanVideo-I2V")),
]}


@dataclass(frozen=True)
class PipelineKind:
    """What a diffusers pipeline class can do, and which sibling class (built with `from_pipe` from the
    same weights) handles the modes it lacks."""

    family: str
    text_to_video: bool
    image_to_video: bool
    last_frame: bool = False
    reference_images: bool = False
    t2v_via: str | None = None  # sibling class for text-only requests
    i2v_via: str | None = None  # sibling class for first-frame requests


KINDS: dict[str, PipelineKind] = {
    "WanPipeline": PipelineKind("wan", True, False),
    "WanImageToVideoPipeline": PipelineKind("wan", False, True, last_frame=True),
    "WanVACEPipeline": PipelineKind("wan", True, True, last_frame=True, reference_images=True),
    "LTXPipeline": PipelineKind("ltx", True, True, i2v_via="LTXImageToVideoPipeline"),
    "LTXImageToVideoPipeline": PipelineKind("ltx", True, True, t2v_via="LTXPipeline"),
    "LTXConditionPipeline": PipelineKind("ltx", True, True, last_frame=True),
    "CogVideoXPipeline": PipelineKind("cogvideox", True, False),
    "CogVideoXImageToVideoPipeline": PipelineKind("cogvideox", False, True),
    "HunyuanVideoPipeline": PipelineKind("hunyuan", True, False),
    "HunyuanVideoImageToVideoPipeline": PipelineKind("hunyuan", False, True),
}
# Wan 2.2 TI2V-5B ships as a WanPipeline whose weights also do image-to-video.
WAN_TI2V = PipelineKind("wan", True, True, i2v_via="WanImageToVideoPipeline")

DEFAULT_MODEL = "Wan-AI/Wan2.1-T2V-1.3B-Diffusers"


def kind_for(class_name: str, index: dict[str, Any] | None = None) -> PipelineKind:
    if class_name == "WanPipeline" and (index or {}).get("expand_timesteps"):
        return WAN_TI2V
    try:
        return KINDS[class_name]
    except KeyError:
        raise ConfigError(f"diffusers pipeline {class_name!r} is not a supported video pipeline: "
                          f"use one of {', '.join(sorted(KINDS))}") from None


def guess_class(model: str) -> str:
    """A pipeline class guessed from a Hub id, for when model_index.json is not at hand (not cached yet)."""
    m = model.lower()
    if "vace" in m:
        return "WanVACEPipeline"
    if "wan" in m:
        return "WanImageToVideoPipeline" if re.search(r"i2v|flf2v", m) else "WanPipeline"
    if "ltx" in m:
        return "LTXConditionPipeline" if re.search(r"0\.9\.[5-9]", m) else "LTXPipeline"
    if "cogvideo" in m:
        return "CogVideoXImageToVideoPipeline" if "i2v" in m else "CogVideoXPipeline"
    if "hunyuan" in m:
        return "HunyuanVideoImageToVideoPipeline" if "i2v" in m else "HunyuanVideoPipeline"
    raise ConfigError(f"cannot tell which video model {model!r} is: pass a folder with model_index.json, "
                      f"a cached Hub id, or preset=one of {', '.join(PRESETS)}")


def preset_for(model: str, class_name: str, index: dict[str, Any] | None = None) -> Preset:
    """Pick the preset from the pipeline class, its model_index.json and hints in the model name."""
    index = index or {}
    m = model.lower()
    family = kind_for(class_name, index).family
    if family == "wan":
        if index.get("expand_timesteps") or "ti2v" in m:
            return PRESETS["wan2.2-ti2v-5b"]
        if index.get("boundary_ratio") is not None or "a14b" in m:
            return PRESETS["wan2.2-a14b"]
        if "lightx2v" in m:
            return PRESETS["wan2.1-lightx2v"]
        return PRESETS["wan2.1"]
    if family == "ltx":
        return PRESETS["ltx-distilled" if "distilled" in m else "ltx"]
    if family == "cogvideox":
        return PRESETS["cogvideox1.5" if "1.5" in m else "cogvideox"]
    return PRESETS["hunyuan"]


def get_preset(name: str) -> Preset:
    try:
        return PRESETS[name]
    except KeyError:
        raise ConfigError(f"unknown diffusers preset {name!r}: choose one of {', '.join(PRESETS)}") from None


def fit_size(req_width: int, req_height: int, preset: Preset, multiple: int) -> tuple[int, int]:
    """Width, height to generate for a requested size: the request's aspect, each side rounded to the
    nearest multiple (at least one); a request larger than the preset's native area is scaled down to
    it and rounded down, so the model never runs above the pixel count it was trained for."""
    if req_width <= 0 or req_height <= 0:
        raise BriefError(f"clip size must be positive, got {req_width}x{req_height}")
    native = preset.width * preset.height
    scale = min(1.0, math.sqrt(native / (req_width * req_height)))
    round_down = scale < 1.0

    def snap(side: float) -> int:
        steps = math.floor(side / multiple) if round_down else math.floor(side / multiple + 0.5)
        return max(multiple, steps * multiple)

    return snap(req_width * scale), snap(req_height * scale)


def check_size(width: int, height: int, multiple: int) -> None:
    """Explicit sizes are not rounded behind the user's back: they must already fit the model."""
    if width <= 0 or height <= 0 or width % multiple or height % multiple:
        raise BriefError(f"size {width}x{height} does not fit this model: width and height must be "
                         f"positive multiples of {multiple}")
