"""What remote video models cost, in USD per generated second: one dated table, overridable.

Prices change and several are only known from third parties, so the table can be replaced
entry by entry from a JSON file named by `REELWRIGHT_PRICES`:

    {"date": "2026-12",
     "prices": [{"generator": "veo", "model": "veo-3.1-generate-preview", "resolution": "*",
                 "usd_per_second": 0.40}]}

(a bare list of such entries works too). `model` and `resolution` may be "*" (any). Lookup
tries (generator, model, resolution), then (generator, model, "*"), then (generator, "*",
resolution), then (generator, "*", "*"); an unknown generator costs 0.0 (local models).
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

from ..errors import ConfigError
from ..runs.files import read_bounded

PRICE_DATE = "2026-11"
ENV_VAR = "REELWRIGHT_PRICES"

# (generator, model, resolution | "*") -> USD per second of video. (?) = third-party figure.
PRICES: dict[tuple[str, str, str], float] = {
    # xAI Grok Imagine (?): $0.05/s at 480p; higher resolutions priced up proportionally.
    ("xai", "*", "*"): 0.05,
    ("xai", "grok-imagine-video", "480p"): 0.05,
    ("xai", "grok-imagine-video", "720p"): 0.07,
    ("xai", "grok-imagine-video-1.5", "480p"): 0.05,
    ("xai", "grok-imagine-video-1.5", "720p"): 0.07,
    ("xai", "grok-imagine-video-1.5", "1080p"): 0.10,
    # Google Veo (Gemini API, audio on) (?).
    ("veo", "*", "*"): 0.40,
    ("veo", "veo-3.1-generate-preview", "*"): 0.40,
    ("veo", "veo-3.1-fast-generate-preview", "*"): 0.15,
    ("veo", "veo-3.1-lite-generate-preview", "*"): 0.05,
    ("veo", "veo-3.0-generate-001", "*"): 0.40,
    ("veo", "veo-3.0-fast-generate-001", "*"): 0.15,
    ("veo", "veo-2.0-generate-001", "*"): 0.35,
    # Runway: credits at $0.01; gen4_turbo 5/s, gen4.5 12/s, veo3.1 40/s, veo3.1_fast 15/s (?).
    ("runway", "*", "*"): 0.12,
    ("runway", "gen4_turbo", "*"): 0.05,
    ("runway", "gen4.5", "*"): 0.12,
    ("runway", "veo3.1", "*"): 0.40,
    ("runway", "veo3.1_fast", "*"): 0.15,
    ("runway", "veo3", "*"): 0.40,
    # Hosted open and third-party models vary per model: conservative defaults (?).
    ("replicate", "*", "*"): 0.10,
    ("fal", "*", "*"): 0.10,
    ("luma", "*", "*"): 0.14,
    ("luma", "ray-2", "*"): 0.14,
    ("luma", "ray-flash-2", "*"): 0.05,
    # Local backends cost nothing per second.
    ("animatic", "*", "*"): 0.0,
    ("diffusers", "*", "*"): 0.0,
    # A self-hosted /v1/videos server: the GPUs are yours (price it with usd_per_second or REELWRIGHT_PRICES).
    ("openai-videos", "*", "*"): 0.0,
}

_lock = threading.Lock()
_override_cache: dict[str, tuple[float, dict[tuple[str, str, str], float], str]] = {}


def _load_overrides(path_text: str) -> tuple[dict[tuple[str, str, str], float], str]:
    path = Path(path_text).expanduser()
    try:
        mtime = path.stat().st_mtime
    except OSError as exc:
        raise ConfigError(f"{ENV_VAR}={path_text!r} is not a readable file") from exc
    with _lock:
        cached = _override_cache.get(path_text)
        if cached and cached[0] == mtime:
            return cached[1], cached[2]
    try:
        data = json.loads(read_bounded(path, ENV_VAR))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{ENV_VAR}={path_text!r} is not valid JSON: {exc}") from exc
    date = PRICE_DATE
    entries = data
    if isinstance(data, dict):
        date = str(data.get("date", PRICE_DATE))
        entries = data.get("prices", [])
    if not isinstance(entries, list):
        raise ConfigError(f"{ENV_VAR}={path_text!r}: expected a list of price entries")
    table: dict[tuple[str, str, str], float] = {}
    for entry in entries:
        try:
            key = (str(entry["generator"]).lower(), str(entry.get("model", "*")), str(entry.get("resolution", "*")))
            value = float(entry["usd_per_second"])
        except (TypeError, KeyError, ValueError) as exc:
            raise ConfigError(f"{ENV_VAR}={path_text!r}: bad price entry {entry!r}") from exc
        if value < 0:
            raise ConfigError(f"{ENV_VAR}={path_text!r}: negative price in {entry!r}")
        table[key] = value
    with _lock:
        _override_cache[path_text] = (mtime, table, date)
    return table, date


def price_table() -> tuple[dict[tuple[str, str, str], float], str]:
    """The effective table (built-in updated by REELWRIGHT_PRICES) and its date."""
    override = os.environ.get(ENV_VAR, "").strip()
    if not override:
        return dict(PRICES), PRICE_DATE
    extra, date = _load_overrides(override)
    merged = dict(PRICES)
    merged.update(extra)
    return merged, date


def price_per_second(generator: str, model: str, resolution: str = "*") -> float:
    """USD per generated second for a generator/model/resolution (see module docs for lookup)."""
    table, _ = price_table()
    generator = generator.lower()
    for key in ((generator, model, resolution), (generator, model, "*"), (generator, "*", resolution),
                (generator, "*", "*")):
        if key in table:
            return table[key]
    return 0.0


def price_date() -> str:
    """The date of the effective price table (REELWRIGHT_PRICES may set its own)."""
    return price_table()[1]
