"""Where things live and what the user configured, resolved once into one typed `Settings`:
CLI flag → `REELWRIGHT_<NAME>` env var → config file (`$REELWRIGHT_HOME/config.toml`) → default."""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .errors import ConfigError
from .runs.files import read_bounded


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


class Settings(BaseModel):
    """What a command runs with. Every field can come from a flag, `REELWRIGHT_<FIELD>` or the config file."""

    model_config = ConfigDict(extra="forbid")

    generator: str = Field("animatic", description="video backend NAME[:MODEL]")
    llm: str = Field("builtin", description="builtin, openai:MODEL, anthropic:MODEL, xai:MODEL, ollama:MODEL")
    llm_base_url: str | None = Field(None, description="base URL of an OpenAI-compatible server")
    fallback: Literal["builtin", "none"] | None = Field(
        None, description="when the chat model cannot plan: builtin (the default) plans on the built-in planner, "
                          "none stops with an error")
    runs_dir: Path | None = Field(None, description="where run folders go")
    budget: float | None = Field(None, ge=0, description="stop before spending more than this many USD")
    concurrency: int | None = Field(None, ge=1, description="clips made at once")
    executor: Literal["local", "ray"] = Field("local", description="where clips are made: this process, or a Ray cluster")
    jobs_on_cluster: bool = Field(False, description="serve with executor ray: run each whole job as a Ray task on "
                                                     "any node (the database and runs folder on a shared filesystem)")
    gen_base_url: str | None = Field(None, description="base URL of the video server (openai-videos, openrouter)")
    tts: str = Field("espeak", description="voice backend: espeak[:VOICE], openai:MODEL[:VOICE], elevenlabs:VOICE_ID")
    loudness: str = Field("social", description="social (−14 LUFS), broadcast (−23), atsc (−24) or a LUFS number")
    subtitles: Literal["file", "burn", "none"] = Field("file", description="captions beside the video, burned in, or none")
    sign_cert: Path | None = Field(None, description="PEM certificate chain (signer first) that signs the C2PA manifest")
    sign_key: Path | None = Field(None, description="PEM private key of that certificate")

    @field_validator("generator")
    @classmethod
    def _known_generator(cls, v: str) -> str:
        from .generators.registry import available, parse_spec

        name, _ = parse_spec(v)
        if name not in available():
            raise ValueError(f"unknown generator {name!r}: choose one of {', '.join(available())}")
        return v.strip()

    @field_validator("llm")
    @classmethod
    def _llm_spec(cls, v: str) -> str:
        from .llm.registry import BUILTIN, PROVIDERS

        text = v.strip()
        provider, sep, model = text.partition(":")
        if text.lower() in BUILTIN or provider.strip().lower() == "local":  # `local` alone: the bundled model
            return text or "builtin"
        if not sep or provider.strip().lower() not in PROVIDERS or not model.strip():
            raise ValueError(f"unknown llm {v!r}: use builtin, local[:PATH.gguf] or one of "
                             f"{', '.join(p + ':MODEL' for p in PROVIDERS if p != 'local')}")
        return text or "builtin"

    @field_validator("tts")
    @classmethod
    def _tts_spec(cls, v: str) -> str:
        from .sound.voices import available

        name = v.strip().partition(":")[0].strip().lower()
        if name not in available():
            raise ValueError(f"unknown TTS backend {name!r}: choose one of {', '.join(available())}")
        return v.strip()

    @field_validator("loudness")
    @classmethod
    def _loudness(cls, v: str) -> str:
        from .sound.loudness import parse_target

        parse_target(v)
        return v.strip()

    @field_validator("subtitles", mode="before")
    @classmethod
    def _subtitles(cls, v: Any) -> Any:
        return v.strip().lower() if isinstance(v, str) else v

    @field_validator("llm_base_url", "gen_base_url")
    @classmethod
    def _url(cls, v: str | None) -> str | None:
        if v is not None and not v.startswith(("http://", "https://")):
            raise ValueError(f"{v!r} is not an http(s) URL, e.g. http://127.0.0.1:11434/v1")
        return v


SETTINGS_KEYS = tuple(Settings.model_fields)


def config_path() -> Path:
    """REELWRIGHT_CONFIG, else `config.toml` in REELWRIGHT_HOME (`config.json` there is still read)."""
    env = os.environ.get("REELWRIGHT_CONFIG")
    if env:
        return Path(env).expanduser()
    toml = home() / "config.toml"
    legacy = home() / "config.json"
    return legacy if legacy.is_file() and not toml.is_file() else toml


def load_config() -> dict[str, Any]:
    """The config file's table (empty when there is none). TOML, or JSON for a `.json` file."""
    path = config_path()
    if not path.is_file():
        return {}
    try:
        text = read_bounded(path, "config file")
        data = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, tomllib.TOMLDecodeError) as exc:
        kind = "JSON" if path.suffix == ".json" else "TOML"
        raise ConfigError(f"config file {path} is not valid {kind}: {str(exc).splitlines()[0]}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must hold a table of settings")
    unknown = sorted(set(data) - set(SETTINGS_KEYS))
    if unknown:
        raise ConfigError(f"config file {path}: unknown setting {unknown[0]!r}: use {', '.join(SETTINGS_KEYS)}")
    return data


def resolve_settings(flags: Mapping[str, Any] | None = None) -> Settings:
    """One `Settings` from flags (None = not given), then env vars, then the config file, then defaults.

    A bad value is a `ConfigError` naming where it came from (`--budget`, `REELWRIGHT_BUDGET`, the file)."""
    values: dict[str, Any] = {}
    source: dict[str, str] = {}
    path = config_path()
    for key, value in load_config().items():
        values[key], source[key] = value, f"{key} in {path}"
    for key in SETTINGS_KEYS:
        env = os.environ.get(f"REELWRIGHT_{key.upper()}", "").strip()
        if env:
            values[key], source[key] = env, f"REELWRIGHT_{key.upper()}"
    for key, value in (flags or {}).items():
        if key not in SETTINGS_KEYS:
            raise TypeError(f"{key!r} is not a setting")  # a programming error, not the user's
        if value is not None:
            values[key], source[key] = value, f"--{key.replace('_', '-')}"
    try:
        settings = Settings.model_validate(values)
    except ValidationError as exc:
        first = exc.errors()[0]
        key = str(first["loc"][0]) if first["loc"] else ""
        ctx = (first.get("ctx") or {}).get("error")
        why = str(ctx) if ctx else first["msg"].removeprefix("Value error, ")
        raise ConfigError(f"{source.get(key, key)}={values.get(key)!r}: {why}") from None
    if settings.runs_dir is None:
        settings = settings.model_copy(update={"runs_dir": default_runs_dir()})
    return settings

