"""Where a diffusers model comes from (a `save_pretrained` folder or a Hub id, with its model_index.json) and
the typed options of the `diffusers:MODEL` backend."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from ..errors import ConfigError, InputFileError
from ..timing import Frac
from .diffusers_presets import DEFAULT_MODEL, guess_class
from .options import GeneratorOptions

_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
_DTYPES = {"bfloat16": "bfloat16", "bf16": "bfloat16", "float16": "float16", "fp16": "float16",
           "half": "float16", "float32": "float32", "fp32": "float32", "float": "float32"}


class DiffusersOptions(GeneratorOptions):
    """Options for `diffusers:MODEL`; anything left unset comes from the model's preset."""

    preset: str | None = None
    steps: int | None = Field(None, ge=1, le=1000)
    guidance: float | None = Field(None, ge=0)
    height: int | None = None
    width: int | None = None
    fps: Frac | None = None  # native rate to encode at, when a checkpoint differs from its family's
    max_frames: int | None = Field(None, ge=1)
    device: str | None = None  # cuda, cuda:1, cpu, mps
    dtype: Literal["bfloat16", "bf16", "float16", "fp16", "half", "float32", "fp32", "float"] | None = None
    offload: Literal["none", "model", "sequential"] = "none"  # CPU offload for models larger than the GPU
    vae_tiling: bool = False
    lora: str | None = None  # a LoRA file, folder or Hub id (e.g. LightX2V step-distill)
    lora_weight_name: str | None = None
    lora_scale: float = 1.0
    crf: int = Field(18, ge=0, le=51)


@dataclass(frozen=True)
class ModelSource:
    """Where the weights are and what model_index.json says about them (empty when not cached yet)."""

    spec: str
    location: str  # a local folder or a Hub repo id
    local: bool
    index: dict[str, Any] = field(default_factory=dict)

    @property
    def class_name(self) -> str:
        return self.index.get("_class_name") or guess_class(self.spec)


def _read_index(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputFileError(f"cannot read {path}: {exc}") from exc
    if not isinstance(data, dict) or "_class_name" not in data:
        raise InputFileError(f"{path} is not a diffusers model_index.json (no _class_name)")
    return data


def resolve_source(model: str) -> ModelSource:
    """A local `save_pretrained` folder, or a Hub id (its model_index.json read from the cache if there)."""
    spec = model.strip() or DEFAULT_MODEL
    path = Path(spec).expanduser()
    looks_local = spec.startswith((".", "/", "~")) or "\\" in spec or path.exists()
    if looks_local:
        if not path.is_dir():
            raise InputFileError(f"diffusers model folder not found: {spec}")
        index = path / "model_index.json"
        if not index.is_file():
            raise InputFileError(f"{spec} is not a diffusers pipeline folder (no model_index.json)")
        return ModelSource(spec, str(path.resolve()), True, _read_index(index))
    if not _HUB_ID.match(spec):
        raise ConfigError(f"diffusers model {spec!r} is neither a folder nor a Hub id like 'owner/name'")
    index: dict[str, Any] = {}
    try:
        from huggingface_hub import try_to_load_from_cache

        cached = try_to_load_from_cache(spec, "model_index.json")
        if isinstance(cached, str):
            index = _read_index(Path(cached))
    except ImportError:
        pass
    return ModelSource(spec, spec, False, index)
