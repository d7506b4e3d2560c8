"""Sound effects on cue: a small built-in set synthesized offline (impact, whoosh, click, ding/bell, pop,
door slam, footstep), or files from a folder named by effect (`--sfx DIR`). Each effect knows where it
hits, so the mix can start it early by that much and the hit lands on the frame."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ..errors import BriefError, InputFileError
from .audiofile import SAMPLE_RATE, audio_duration, decode, hit_time, write_wav

_AUDIO_SUFFIXES = (".wav", ".mp3", ".flac", ".ogg", ".m4a", ".aac", ".opus")
ALIASES = {"bell": "ding", "chime": "ding", "slam": "door slam", "door": "door slam", "door-slam": "door slam",
           "door_slam": "door slam", "step": "footstep", "footsteps": "footstep", "steps": "footstep",
           "hit": "impact", "boom": "impact", "thud": "impact", "swoosh": "whoosh", "swish": "whoosh",
           "tick": "click"}


def _t(seconds: float) -> np.ndarray:
    return np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE


def _noise(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(n)


def _smooth(x: np.ndarray, alpha: float) -> np.ndarray:
    """A moving-average low-pass about 1/alpha samples wide (smaller alpha is darker)."""
    k = max(1, int(round(1 / alpha)))
    return np.convolve(x, np.ones(k) / k, mode="same")


def _impact() -> np.ndarray:
    t = _t(0.9)
    thump = np.sin(2 * np.pi * (55 * t + 40 * (1 - np.exp(-t * 30)) / 30)) * np.exp(-t * 6)
    crack = _smooth(_noise(len(t), 1), 0.3) * np.exp(-t * 40)
    return thump * 0.9 + crack * 0.6


def _whoosh() -> np.ndarray:
    t = _t(0.8)
    swell = np.sin(np.pi * t / 0.8) ** 3
    body = _smooth(_noise(len(t), 2), 0.08) * swell
    return body / max(1e-9, np.abs(body).max())


def _click() -> np.ndarray:
    t = _t(0.03)
    return _noise(len(t), 3) * np.exp(-t * 600) + np.sin(2 * np.pi * 2000 * t) * np.exp(-t * 300)


def _ding() -> np.ndarray:
    t = _t(2.0)
    partials = [(880, 1.0, 2.5), (880 * 2.76, 0.45, 4.0), (880 * 5.4, 0.25, 6.0), (880 * 8.93, 0.12, 9.0)]
    tone = sum(a * np.sin(2 * np.pi * f * t) * np.exp(-t * d) for f, a, d in partials)
    return tone * np.minimum(1.0, t / 0.002)


def _pop() -> np.ndarray:
    t = _t(0.08)
    freq = 600 * np.exp(-t * 25) + 150
    return np.sin(2 * np.pi * np.cumsum(freq) / SAMPLE_RATE) * np.exp(-t * 50)


def _door_slam() -> np.ndarray:
    t = _t(1.2)
    thud = np.sin(2 * np.pi * 70 * t) * np.exp(-t * 9)
    crack = _smooth(_noise(len(t), 4), 0.5) * np.exp(-t * 60)
    rattle = _smooth(_noise(len(t), 5), 0.15) * np.exp(-t * 5) * 0.25
    return thud + crack * 0.8 + rattle


def _footstep() -> np.ndarray:
    t = _t(0.25)
    heel = _smooth(_noise(len(t), 6), 0.2) * np.exp(-t * 45)
    thud = np.sin(2 * np.pi * 90 * t) * np.exp(-t * 30)
    return heel * 0.7 + thud * 0.6


BUILTIN: dict[str, Callable[[], np.ndarray]] = {
    "impact": _impact, "whoosh": _whoosh, "click": _click, "ding": _ding, "pop": _pop, "door slam": _door_slam,
    "footstep": _footstep,
}


def canonical(name: str) -> str:
    key = re.sub(r"[\s_-]+", " ", name.strip().lower())
    return ALIASES.get(key, ALIASES.get(key.replace(" ", "-"), key))


class EffectLibrary:
    """Effects by name: files in `folder` (named by effect: `door slam.wav`, `door-slam.mp3`) first, then the
    built-in set. `prepare(name, cache)` returns a WAV and where in it the sound hits."""

    def __init__(self, folder: Path | None = None):
        self.folder = Path(folder) if folder else None
        self.files: dict[str, Path] = {}
        if self.folder is not None:
            if not self.folder.is_dir():
                raise InputFileError(f"--sfx folder not found: {self.folder}")
            for f in sorted(self.folder.iterdir()):
                if f.suffix.lower() in _AUDIO_SUFFIXES and f.is_file():
                    self.files.setdefault(canonical(f.stem), f)

    def names(self) -> list[str]:
        return sorted(set(BUILTIN) | set(self.files))

    def check(self, name: str) -> str:
        key = canonical(name)
        if key not in self.files and key not in BUILTIN:
            raise BriefError(f"unknown sound effect {name!r}: use one of {', '.join(self.names())}"
                             + ("" if self.folder else " (or give --sfx DIR with files named by effect)"))
        if key in self.files:
            audio_duration(self.files[key], f"sound effect {name!r}")
        return key

    def prepare(self, name: str, cache: Path) -> tuple[Path, float]:
        """(WAV at 48 kHz, seconds from its start to its hit)."""
        key = self.check(name)
        if key in self.files:
            samples = decode(self.files[key])
            out = cache / f"sfx-{re.sub(r'[^a-z0-9]+', '-', key)}-{self.files[key].stat().st_mtime_ns}.wav"
            if not out.is_file():
                write_wav(out, samples)
            return out, hit_time(samples)
        out = cache / f"sfx-builtin-{key.replace(' ', '-')}.wav"
        samples = BUILTIN[key]()
        samples = samples / max(1e-9, np.abs(samples).max()) * 0.7  # about −3 dBFS peak: room for the mix
        if not out.is_file():
            write_wav(out, samples)
        return out, hit_time(samples)
