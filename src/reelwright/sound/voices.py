"""Text-to-speech behind one small interface: `Voice.speak(text, dst) -> Speech` (audio plus word and
sentence timings), and a registry that finds backends like generators do (`reelwright.tts` entry points).

Backends: `espeak` (offline, the default), `openai:MODEL` (any OpenAI-compatible /v1/audio/speech server),
`elevenlabs:VOICE_ID` (ElevenLabs' SDK, character timestamps)."""

from __future__ import annotations

import re
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict

from ..errors import ConfigError, MissingDependencyError

GROUP = "reelwright.tts"
# How a backend's word timings were found; reported so nobody trusts an estimate as a measurement.
TimingSource = Literal["engine", "characters", "alignment", "estimate"]

_BUILTIN = {
    "espeak": "reelwright.sound.espeak:EspeakVoice",
    "openai": "reelwright.sound.openai_tts:OpenAIVoice",
    "elevenlabs": "reelwright.sound.elevenlabs_tts:ElevenLabsVoice",
}
_extra: dict[str, type] = {}


class Span(BaseModel):
    """A word or sentence and where it is spoken, in seconds from the start of its audio."""

    model_config = ConfigDict(extra="forbid")
    text: str
    start: float
    end: float


class Speech(BaseModel):
    """One synthesized line: a WAV file, its length, and its words and sentences in time."""

    model_config = ConfigDict(extra="forbid")
    path: Path
    duration: float
    words: list[Span]
    sentences: list[Span]
    timing: TimingSource
    voice: str


class Voice(Protocol):
    name: str

    def speak(self, text: str, dst: Path) -> Speech:
        """Synthesize `text` to the WAV file `dst` and return its timings."""
        ...


def register(name: str, cls: type) -> None:
    """Register a TTS backend class in-process (tests, notebooks); entry points are the normal path."""
    _extra[name] = cls


def available() -> list[str]:
    return sorted(set(_BUILTIN) | set(_extra) | {ep.name for ep in entry_points(group=GROUP)})


def get_voice(spec: str, **options: Any) -> Voice:
    """'espeak', 'espeak:en-us', 'openai:gpt-4o-mini-tts', 'elevenlabs:VOICE_ID' -> a Voice."""
    name, _, arg = spec.strip().partition(":")
    name = name.strip().lower()
    cls = _extra.get(name)
    if cls is None:
        target = next((ep.value for ep in entry_points(group=GROUP) if ep.name == name), _BUILTIN.get(name))
        if target is None:
            raise ConfigError(f"unknown TTS backend {name!r}: choose one of {', '.join(available())}")
        module, _, attr = target.partition(":")
        try:
            import importlib

            cls = getattr(importlib.import_module(module), attr)
        except ModuleNotFoundError as exc:
            missing = (exc.name or "a package").split(".")[0]
            raise MissingDependencyError(f"the {name} voice's package {missing!r}", "pip install 'reelwright[sound]'") from exc
    return cls(arg.strip() or None, **options)


_SENTENCE_END = re.compile(r"(?<=[.!?…])[\"'”’)]*\s+")


def split_sentences(text: str) -> list[str]:
    """Sentences of a narration, in order ('Meet Tide. It keeps up!' -> two)."""
    return [s.strip() for s in _SENTENCE_END.split(text.strip()) if s.strip()]


def sentence_spans(text: str, words: list[Span], word_starts: list[int]) -> list[Span]:
    """Group word spans into sentences by where each word starts in `text` (character offsets)."""
    bounds: list[tuple[int, int]] = []
    pos = 0
    for sentence in split_sentences(text):
        start = text.find(sentence, pos)
        bounds.append((start, start + len(sentence)))
        pos = start + len(sentence)
    out: list[Span] = []
    for a, b in bounds:
        inside = [w for w, c in zip(words, word_starts) if a <= c < b]
        if inside:
            out.append(Span(text=text[a:b], start=inside[0].start, end=inside[-1].end))
    return out


def clean_text(text: str) -> str:
    """Text as it should be spoken and captioned: markdown marks and stray whitespace removed (markdown that
    reached a TTS script put every caption at zero in one known project)."""
    text = re.sub(r"[*_`#>|~]+", " ", text)
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)
    return re.sub(r"\s+", " ", text).strip()
