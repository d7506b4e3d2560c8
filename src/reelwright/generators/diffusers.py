"""Local open video models through Hugging Face diffusers: Wan 2.1/2.2, LTX-Video, CogVideoX, HunyuanVideo.

`--generator diffusers:MODEL` loads a `save_pretrained` folder or a cached Hub id, runs it (bf16 on CUDA,
float32 on CPU) and writes an H.264 MP4 at the model's native fps; the Director conforms it to the shot."""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import logging
import math
import os
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field, replace
from fractions import Fraction
from pathlib import Path
from typing import Any

from ..errors import BriefError, ConfigError, FFmpegError, GeneratorError, InputFileError, MissingDependencyError
from ..media.encode import aac_args, h264_args, mp4_args
from ..media.ffmpeg import dies_with_parent, ffmpeg_exe
from ..media.util import atomic_output
from ..timing import seconds_to_frames
from .base import Capabilities, ClipRequest, ClipResult, Generator, ProgressFn
from .diffusers_presets import PRESETS, Preset, PipelineKind, check_size, fit_size, get_preset, kind_for, preset_for
# Re-exported: tests and callers import the options and the source resolver from here.
from .diffusers_source import _DTYPES, DiffusersOptions, ModelSource, resolve_source  # noqa: F401

log = logging.getLogger(__name__)
INSTALL = "pip install 'reelwright[diffusers]'"
# Full-frame equivalents of history each pipeline conditions on (context.md point 3). Both take every
# conditioning frame at the clip's size (LTXConditionPipeline preprocesses each image to height × width;
# VACE scales reference images to fit the frame), so a shrunken frame costs the same tokens and only loses
# detail: history is thinned by temporal stride instead (`conditioning_full_size`). LTX: the newest frame
# replaces the first latent frame (no extra tokens) and each older one adds one latent frame of tokens
# (about 5 % of a 161-frame clip). VACE: the newest frame is the control video's first frame; older ones
# become reference images, each one latent frame prepended.
HISTORY_FRAMES = {"LTXConditionPipeline": 5, "WanVACEPipeline": 4}


def _require(module: str) -> Any:
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingDependencyError(f"{module} (for local diffusers models)", INSTALL) from exc


@dataclass
class _Loaded:
    pipe: Any
    device: str
    dtype: str
    run_lock: threading.Lock = field(default_factory=threading.Lock)  # a pipeline runs one clip at a time
    siblings: dict[str, Any] = field(default_factory=dict)


_CACHE: dict[tuple[str, str, str, str], _Loaded] = {}
_CACHE_LOCK = threading.Lock()


@dataclass
class _Plan:
    """What one clip is made with, decided before any weights are touched."""

    frames: int
    width: int
    height: int
    steps: int
    guidance: float
    fps: Fraction
    adjusted: dict[str, str]


class DiffusersGenerator(Generator):
    """Runs a diffusers text/image-to-video pipeline on this machine (no key, no cost, one clip at a time)."""

    name = "diffusers"
    Options = DiffusersOptions
    opts: DiffusersOptions

    def __init__(self, model: str | None = None, **options: Any):
        super().__init__(model=model, **options)
        self.source = resolve_source(self.model)
        self.model = self.source.spec
        self.preset = self._choose_preset()

    def _choose_preset(self) -> Preset:
        if self.opts.preset:
            return get_preset(self.opts.preset)
        return preset_for(self.source.spec, self.source.class_name, self.source.index)

    @property
    def kind(self) -> PipelineKind:
        return kind_for(self.source.class_name, self.source.index)

    @property
    def fps(self) -> Fraction:
        return Fraction(self.opts.fps) if self.opts.fps else self.preset.fps

    def capabilities(self) -> Capabilities:
        p, kind = self.preset, self.kind
        if self.opts.max_frames or self.opts.fps:
            p = _with(p, max_frames=self.opts.max_frames or p.max_frames, fps=self.fps)
        return Capabilities(
            name=self.name, model=self.model, models=[h for q in PRESETS.values() for h in q.hub_ids],
            durations=p.durations(), aspects=["16:9", "9:16", "1:1", "4:3", "3:4"], resolutions=[p.resolution],
            fps=[p.fps], max_references=3 if kind.reference_images else 0, text_to_video=kind.text_to_video,
            max_conditioning_frames=HISTORY_FRAMES.get(self.source.class_name, 0),
            conditioning_full_size=self.source.class_name in HISTORY_FRAMES,
            image_to_video=kind.image_to_video, last_frame=kind.last_frame, reference_images=kind.reference_images,
            audio=False, price_per_second=0.0, concurrency=1, local=True,
            notes=f"{p.label} ({self.source.class_name}): {p.height}x{p.width}, {p.steps} steps, guidance "
                  f"{p.guidance}, frames {p.frame_step}k+1 at {p.fps} fps. {p.notes}".strip())

    def plan(self, request: ClipRequest, multiple: int | None = None) -> _Plan:
        """Frame count, size, steps and guidance for a request; every rounding is recorded in `adjusted`."""
        p, o = self.preset, self.opts
        multiple = multiple or p.multiple
        if o.max_frames:
            p = _with(p, max_frames=o.max_frames)
        fps = self.fps
        adjusted: dict[str, str] = {}
        wanted = seconds_to_frames(request.duration, fps)
        frames = _with(p, fps=fps).snap_frames(wanted)
        if frames != wanted:
            adjusted["frames"] = f"{wanted} -> {frames} ({p.frame_step}k+1 at {fps} fps)"
        if o.width or o.height:
            width, height = o.width or p.width, o.height or p.height
            check_size(width, height, multiple)
        else:
            width, height = fit_size(request.width, request.height, p, multiple)
        if (width, height) != (request.width, request.height):
            adjusted["size"] = f"{request.width}x{request.height} -> {width}x{height}"
        if request.fps != fps:
            adjusted["fps"] = f"{request.fps} -> {fps} (native)"
        return _Plan(frames, width, height, o.steps or p.steps, p.guidance if o.guidance is None else o.guidance,
                     fps, adjusted)

    def generate(self, request: ClipRequest, progress: ProgressFn | None = None) -> ClipResult:
        report = progress or (lambda f, m: None)
        mode = self._mode(request)
        self.plan(request)  # reject impossible requests before loading gigabytes of weights
        device, dtype = self._device_dtype()
        report(0.0, f"loading {self.model} on {device} ({dtype})")
        loaded = self._load()
        torch = _require("torch")
        with loaded.run_lock:
            pipe = self._pipeline_for(loaded, mode)
            plan = self.plan(request, _size_multiple(pipe, self.preset))
            kwargs = self._call_kwargs(pipe, request, plan)
            steps = len(kwargs.get("timesteps") or ()) or plan.steps

            def on_step(_pipe: Any, i: int, _t: Any, _kw: dict[str, Any]) -> dict[str, Any]:
                report(0.05 + 0.85 * (i + 1) / steps, f"step {i + 1}/{steps}")
                return {}

            kwargs["callback_on_step_end"] = on_step
            torch.manual_seed(request.seed)
            # A CPU generator gives the same noise for a seed on any device.
            kwargs["generator"] = torch.Generator(device="cpu").manual_seed(request.seed)
            report(0.05, f"{type(pipe).__name__}: {plan.frames} frames {plan.width}x{plan.height}, {steps} steps")
            started = time.monotonic()
            try:
                with torch.inference_mode():
                    output = pipe(**kwargs)
            except ValueError as exc:
                raise BriefError(f"{type(pipe).__name__} refused the request: {_first_line(exc)}") from exc
            except Exception as exc:  # torch/CUDA failures (out of memory, kernels) surface here
                hint = "; try offload=model or a smaller size" if "out of memory" in str(exc).lower() else ""
                raise GeneratorError(f"{type(pipe).__name__} failed: {_first_line(exc)}{hint}") from exc
        elapsed = time.monotonic() - started
        frames = to_uint8(output.frames[0])
        report(0.92, "encoding")
        write_mp4(frames, request.out_path, plan.fps, audio=request.audio, crf=self.opts.crf)
        report(1.0, "done")
        n = int(frames.shape[0])
        return ClipResult(
            path=request.out_path, duration=Fraction(n) / plan.fps, cost_usd=0.0, model=self.model,
            seconds_generated=Fraction(n) / plan.fps,
            metadata={"preset": self.preset.name, "pipeline": type(pipe).__name__, "device": loaded.device,
                      "dtype": loaded.dtype, "frames": n, "fps": str(plan.fps), "width": int(frames.shape[2]),
                      "height": int(frames.shape[1]), "steps": steps, "guidance": plan.guidance,
                      "seed": request.seed, "adjusted": plan.adjusted, "seconds": round(elapsed, 3),
                      "seconds_per_step": round(elapsed / steps, 4)})

    def _mode(self, request: ClipRequest) -> str:
        kind = self.kind
        if request.extend_from or request.extend_job:
            raise BriefError(f"diffusers model {self.model} cannot extend a video")
        if request.last_image and not kind.last_frame:
            raise BriefError(f"diffusers model {self.model} ({self.source.class_name}) cannot take a last frame")
        if request.image or request.last_image:
            if not kind.image_to_video:
                raise BriefError(f"diffusers model {self.model} ({self.source.class_name}) is text-to-video only: "
                                 "use an image-to-video checkpoint for a first frame")
            return "i2v"
        if not kind.text_to_video:
            raise BriefError(f"diffusers model {self.model} ({self.source.class_name}) needs a first-frame image")
        if request.references and not kind.reference_images:
            log.warning("diffusers %s takes no reference images; %d ignored", self.model, len(request.references))
        return "t2v"

    def _device_dtype(self) -> tuple[str, str]:
        torch = _require("torch")
        device = self.opts.device or ("cuda" if torch.cuda.is_available() else "cpu")
        if device.startswith("cuda") and not torch.cuda.is_available():
            raise ConfigError(f"device={device} but torch sees no CUDA GPU (torch {torch.__version__})")
        dtype = _DTYPES[self.opts.dtype] if self.opts.dtype else ("float32" if device == "cpu" else "bfloat16")
        return device, dtype

    def _load(self) -> _Loaded:
        device, dtype = self._device_dtype()
        key = (self.source.location, device, dtype, self.opts.lora or "")
        with _CACHE_LOCK:  # concurrency is 1: loading under the global lock keeps one copy per key
            if key in _CACHE:
                return _CACHE[key]
            log.info("diffusers: loading %s on %s as %s%s", self.model, device, dtype,
                     "" if device != "cpu" else " (no CUDA GPU: CPU fallback, slow)")
            _CACHE[key] = _Loaded(self._from_pretrained(device, dtype), device, dtype)
            return _CACHE[key]

    def _from_pretrained(self, device: str, dtype: str) -> Any:
        torch = _require("torch")
        diffusers = _require("diffusers")
        _require("transformers")
        if self.kind.family == "wan":
            _require("accelerate")  # diffusers needs it to load Wan's sharded text encoder
            if self.kind.image_to_video:
                _require("ftfy")  # Wan's image-to-video and VACE pipelines import it unconditionally
        offline = os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}
        kw: dict[str, Any] = {"local_files_only": True} if (offline or self.source.local) else {}
        # diffusers ≥ 0.36 renamed torch_dtype to dtype.
        dtype_kw = "dtype" if hasattr(importlib.import_module("diffusers.utils.deprecation_utils"),
                                      "_resolve_dtype") else "torch_dtype"
        kw[dtype_kw] = getattr(torch, dtype)
        try:
            pipe = diffusers.DiffusionPipeline.from_pretrained(self.source.location, **kw)
        except (OSError, ValueError) as exc:
            reason = _first_line(exc)
            if self.source.local:
                raise InputFileError(f"cannot load diffusers pipeline from {self.source.location}: {reason}") from exc
            if offline:
                raise ConfigError(f"diffusers model {self.model!r} is not in the Hugging Face cache and HF_HUB_OFFLINE "
                                  f"is set: download it first (hf download {self.model}) or pass a local folder") from exc
            raise ConfigError(f"cannot load diffusers model {self.model!r} from the Hugging Face Hub: {reason}") from exc
        except ImportError as exc:
            raise MissingDependencyError(f"a package {self.model} needs ({_first_line(exc)})", INSTALL) from exc
        if type(pipe).__name__ != self.source.class_name and self.source.index:
            log.warning("diffusers: %s loaded as %s", self.model, type(pipe).__name__)
        if self.opts.lora:
            self._load_lora(pipe)
        if self.kind.family == "wan" and dtype != "float32" and getattr(pipe, "vae", None) is not None:
            pipe.vae.to(torch.float32)  # as diffusers' Wan examples do: the VAE decodes better in float32
        if self.opts.vae_tiling and hasattr(getattr(pipe, "vae", None), "enable_tiling"):
            pipe.vae.enable_tiling()
        if self.opts.offload == "model" and device != "cpu":
            pipe.enable_model_cpu_offload(device=device)
        elif self.opts.offload == "sequential" and device != "cpu":
            pipe.enable_sequential_cpu_offload(device=device)
        else:
            pipe.to(device)
        pipe.set_progress_bar_config(disable=True)
        return pipe

    def _load_lora(self, pipe: Any) -> None:
        _require_any("peft", "pip install peft")
        try:
            kw = {"weight_name": self.opts.lora_weight_name} if self.opts.lora_weight_name else {}
            pipe.load_lora_weights(self.opts.lora, adapter_name="reelwright", **kw)
            pipe.set_adapters(["reelwright"], adapter_weights=[self.opts.lora_scale])
        except (OSError, ValueError) as exc:
            raise InputFileError(f"cannot load LoRA {self.opts.lora}: {_first_line(exc)}") from exc

    def _pipeline_for(self, loaded: _Loaded, mode: str) -> Any:
        """The loaded pipeline, or a sibling sharing its weights for a mode it lacks (LTX t2v -> i2v).
        Called under the run lock."""
        kind = self.kind
        via = kind.i2v_via if mode == "i2v" else kind.t2v_via
        if via is None:
            return loaded.pipe
        if via not in loaded.siblings:
            cls = getattr(_require("diffusers"), via)
            loaded.siblings[via] = cls.from_pipe(loaded.pipe)
            loaded.siblings[via].set_progress_bar_config(disable=True)
        return loaded.siblings[via]

    def _call_kwargs(self, pipe: Any, request: ClipRequest, plan: _Plan) -> dict[str, Any]:
        name = type(pipe).__name__
        builder = _BUILDERS.get(name)
        if builder is None:
            raise ConfigError(f"no call builder for diffusers pipeline {name}")
        kw: dict[str, Any] = {
            "prompt": request.prompt,
            "negative_prompt": request.negative_prompt or self.preset.negative_prompt or None,
            "height": plan.height, "width": plan.width, "num_frames": plan.frames,
            "num_inference_steps": plan.steps, "guidance_scale": plan.guidance, "output_type": "np",
        }
        size = (plan.width, plan.height)
        image = load_image(request.image, size) if request.image else None
        last = load_image(request.last_image, size) if request.last_image else None
        refs = [load_image(r.path, size) for r in request.references[:3]] if self.kind.reference_images else []
        history: list[tuple[Any, int, float]] = []
        if request.history and name not in HISTORY_FRAMES:
            log.warning("diffusers %s takes no history frames; %d ignored", name, len(request.history))
        elif request.history:
            # The newest frame (index 0) is the clip's first frame unless the request names one itself.
            first = [h for h in request.history if h.frame_index == 0]
            if image is None and first:
                image = load_image(first[-1].path, size)
            history = [(load_image(h.path, size), h.frame_index, h.strength)
                       for h in request.history if h.frame_index < 0]
        builder(kw, plan=plan, image=image, last=last, refs=refs, history=history)
        accepted = inspect.signature(pipe.__call__).parameters
        extra = dict(self.preset.call_extra)
        if (self.opts.steps and self.opts.steps != self.preset.steps) or name != "LTXConditionPipeline":
            # A fixed schedule only fits the preset's step count, and only LTXConditionPipeline takes one
            # (LTXPipeline always passes its own sigmas).
            extra.pop("timesteps", None)
        if "guidance_scale_2" in extra and getattr(pipe.config, "boundary_ratio", None) is None:
            extra.pop("guidance_scale_2")
        kw.update({k: v for k, v in extra.items() if k in accepted})
        return kw

    def close(self) -> None:
        with _CACHE_LOCK:
            for key in [k for k in _CACHE if k[0] == self.source.location]:
                del _CACHE[key]
        if importlib.util.find_spec("torch") is not None:
            torch = importlib.import_module("torch")
            if torch.cuda.is_available():
                torch.cuda.empty_cache()


def _first_line(exc: BaseException) -> str:
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    return lines[0] if lines else type(exc).__name__


def _require_any(module: str, install: str) -> None:
    if importlib.util.find_spec(module) is None:
        raise MissingDependencyError(module, install)


def _with(preset: Preset, **changes: Any) -> Preset:
    return replace(preset, **changes)


def _size_multiple(pipe: Any, preset: Preset) -> int:
    """H/W multiple of the loaded weights (VAE factor × patch), which beats the preset's if they differ."""
    vae = getattr(pipe, "vae_scale_factor_spatial", None) or getattr(pipe, "vae_spatial_compression_ratio", None)
    patch = getattr(getattr(getattr(pipe, "transformer", None), "config", None), "patch_size", None)
    if not vae or patch is None:
        return preset.multiple
    side = patch[-1] if isinstance(patch, (list, tuple)) else patch
    multiple = int(vae) * int(side)
    return math.lcm(multiple, 32) if preset.family == "ltx" else multiple  # LTX checks % 32 whatever its VAE


# Per-family __call__ arguments beyond the common ones. Each mutates kw in place.
def _wan_i2v(kw: dict[str, Any], *, image: Any, last: Any, **_: Any) -> None:
    kw["image"] = image
    if last is not None:
        kw["last_image"] = last


def _wan_vace(kw: dict[str, Any], *, plan: _Plan, image: Any, last: Any, refs: list[Any],
              history: list[tuple[Any, int, float]] = (), **_: Any) -> None:
    # VACE's control video covers only the frames being made, so history before the first frame can only
    # come in as reference images (appearance, not position; VACE has no per-image strength).
    refs = list(refs) + [im for im, _, _ in history]
    if image is not None or last is not None:
        from PIL import Image

        # Known frames are given with a black mask; frames to generate are grey with a white mask.
        grey = Image.new("RGB", (plan.width, plan.height), (127, 127, 127))
        keep, make = (Image.new("L", (plan.width, plan.height), v) for v in (0, 255))
        video, mask = [grey] * plan.frames, [make] * plan.frames
        if image is not None:
            video[0], mask[0] = image, keep
        if last is not None:
            video[-1], mask[-1] = last, keep
        kw["video"], kw["mask"] = list(video), list(mask)
    if refs:
        kw["reference_images"] = refs


def _ltx(kw: dict[str, Any], *, plan: _Plan, **_: Any) -> None:
    kw["frame_rate"] = float(plan.fps)


def _ltx_i2v(kw: dict[str, Any], *, plan: _Plan, image: Any, **_: Any) -> None:
    _ltx(kw, plan=plan)
    kw["image"] = image


def ltx_history_slots(count: int, step: int = 8) -> list[int]:
    """Frame indices for `count` history frames before the clip, oldest first: one latent frame (`step`
    video frames) apart, ending one latent frame before frame 0. The true gap can be minutes, far beyond the
    clip lengths LTX was trained on, and its rotary positions are relative: so order is kept, not distance."""
    return [-step * (count - k) for k in range(count)]


def _ltx_condition(kw: dict[str, Any], *, plan: _Plan, image: Any, last: Any,
                   history: list[tuple[Any, int, float]] = (), **_: Any) -> None:
    _ltx(kw, plan=plan)
    from diffusers.pipelines.ltx.pipeline_ltx_condition import LTXVideoCondition

    conditions = []
    if image is not None:
        conditions.append(LTXVideoCondition(image=image, frame_index=0))
    # Older history goes before the clip at negative indices: diffusers appends each as extra tokens at
    # that temporal position (only index 0 overwrites the clip's own first latent frame).
    for (im, _, strength), slot in zip(history, ltx_history_slots(len(history))):
        conditions.append(LTXVideoCondition(image=im, frame_index=slot, strength=float(strength)))
    if last is not None:
        conditions.append(LTXVideoCondition(image=last, frame_index=plan.frames - 1))
    if conditions:
        kw["conditions"] = conditions


def _image_only(kw: dict[str, Any], *, image: Any, **_: Any) -> None:
    kw["image"] = image


def _text_only(kw: dict[str, Any], **_: Any) -> None:
    pass


_BUILDERS = {
    "WanPipeline": _text_only, "WanImageToVideoPipeline": _wan_i2v, "WanVACEPipeline": _wan_vace,
    "LTXPipeline": _ltx, "LTXImageToVideoPipeline": _ltx_i2v, "LTXConditionPipeline": _ltx_condition,
    "CogVideoXPipeline": _text_only, "CogVideoXImageToVideoPipeline": _image_only,
    "HunyuanVideoPipeline": _text_only, "HunyuanVideoImageToVideoPipeline": _image_only,
}


def load_image(path: Path, size: tuple[int, int]) -> Any:
    """An RGB image cropped to the clip's aspect (centre) and resized to `size` (width, height)."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            return ImageOps.fit(img.convert("RGB"), size, method=Image.Resampling.LANCZOS)
    except (OSError, UnidentifiedImageError) as exc:
        raise InputFileError(f"cannot read image {path}: {exc}") from exc


def to_uint8(frames: Any) -> Any:
    """Pipeline frames (F, H, W, 3) floats in [0, 1] -> uint8."""
    import numpy as np

    arr = np.asarray(frames)
    if arr.dtype != np.uint8:
        arr = (np.clip(arr, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    if arr.ndim != 4 or arr.shape[-1] != 3:
        raise GeneratorError(f"pipeline returned frames of shape {arr.shape}, expected (frames, H, W, 3)")
    return arr


def write_mp4(frames: Any, out_path: Path, fps: Fraction, *, audio: bool, crf: int = 18) -> None:
    """Encode uint8 RGB frames to H.264 yuv420p at `fps` (plus silent stereo AAC), written atomically.

    Frames go to the ffmpeg CLI as rawvideo on stdin, one at a time. (libx264 through PyAV inside a
    process that has torch loaded gave different bitstreams for identical frames; a fresh ffmpeg does not.)"""
    import numpy as np

    n, height, width = frames.shape[:3]
    if width % 2 or height % 2:
        raise GeneratorError(f"frames of {width}x{height} cannot be encoded as yuv420p (odd size)")
    rate = f"{fps.numerator}/{fps.denominator}"
    with atomic_output(out_path) as tmp:
        argv = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-y", "-loglevel", "error",
                "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{width}x{height}", "-framerate", rate, "-i", "pipe:0"]
        if audio:
            argv += ["-f", "lavfi", "-t", f"{float(Fraction(n) / fps):.6f}",
                     "-i", "anullsrc=channel_layout=stereo:sample_rate=48000"]
        argv += ["-map", "0:v"] + (["-map", "1:a", *aac_args(bitrate="128k")] if audio else [])
        argv += [*h264_args(preset="medium", crf=crf), "-r", rate, *mp4_args(), str(tmp)]
        with tempfile.TemporaryFile() as err:
            proc = subprocess.Popen(dies_with_parent(argv), stdin=subprocess.PIPE, stderr=err)
            assert proc.stdin is not None
            try:
                for i in range(n):
                    proc.stdin.write(np.ascontiguousarray(frames[i]).tobytes())
                proc.stdin.close()
            except BrokenPipeError:
                pass  # ffmpeg stopped early: its exit code and stderr say why
            rc = proc.wait()
            err.seek(0)
            if rc != 0:
                raise FFmpegError(argv, rc, err.read().decode("utf-8", "replace"))
