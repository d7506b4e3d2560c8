"""Finds generators through the `reelwright.generators` entry-point group (built-ins included)."""

from __future__ import annotations

from importlib.metadata import entry_points
from typing import Any

from ..errors import ConfigError, MissingDependencyError
from .base import Generator

GROUP = "reelwright.generators"
_extra_registry: dict[str, type[Generator]] = {}


def register(name: str, cls: type[Generator]) -> None:
    """Register a generator class in-process (tests, notebooks). Entry points are the normal path."""
    _extra_registry[name] = cls


def available() -> list[str]:
    names = {ep.name for ep in entry_points(group=GROUP)} | set(_extra_registry)
    return sorted(names)


def parse_spec(spec: str) -> tuple[str, str | None]:
    """'xai:grok-imagine-video-1.5' -> ('xai', 'grok-imagine-video-1.5')."""
    name, _, model = spec.strip().partition(":")
    return name.strip().lower(), (model.strip() or None)


def load_class(name: str) -> type[Generator]:
    if name in _extra_registry:
        return _extra_registry[name]
    matches = [ep for ep in entry_points(group=GROUP) if ep.name == name]
    if not matches:
        raise ConfigError(f"unknown generator {name!r}: choose one of {', '.join(available())}")
    try:
        return matches[0].load()
    except ModuleNotFoundError as exc:
        missing = (exc.name or "a package").split(".")[0]
        raise MissingDependencyError(f"the {name} generator's package {missing!r}", f"pip install 'reelwright[{name}]'") from exc


def get_generator(spec: str, **options: Any) -> Generator:
    name, model = parse_spec(spec)
    cls = load_class(name)
    return cls(model=model, **options)
