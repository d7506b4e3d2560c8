"""Where things live and what the user configured: CLI flag → env var (REELWRIGHT_*) → config file."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from .errors import ConfigError


def home() -> Path:
    """REELWRIGHT_HOME, else the platform's user data dir."""
    env = os.environ.get("REELWRIGHT_HOME")
    if env:
        return Path(env).expanduser()
    from platformdirs import user_data_dir

    return Path(user_data_dir("reelwright", appauthor=False))


def default_runs_dir() -> Path:
    """Runs go under REELWRIGHT_HOME when it is set, else ./runs beside the user's work."""
    env = os.environ.get("REELWRIGHT_RUNS_DIR")
    if env:
        return Path(env).expanduser()
    if os.environ.get("REELWRIGHT_HOME"):
        return home() / "runs"
    return Path.cwd() / "runs"


def load_config() -> dict[str, Any]:
    """The optional config file: $REELWRIGHT_HOME/config.json (keys: generator, llm, llm_base_url, ...)."""
    path = Path(os.environ.get("REELWRIGHT_CONFIG", home() / "config.json"))
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigError(f"config file {path} is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must hold a JSON object")
    return data


def setting(name: str, flag_value: Any = None, default: Any = None) -> Any:
    """Resolve one setting: flag, then REELWRIGHT_<NAME>, then the config file, then default."""
    if flag_value is not None:
        return flag_value
    env = os.environ.get(f"REELWRIGHT_{name.upper()}")
    if env:
        return env
    return load_config().get(name, default)
