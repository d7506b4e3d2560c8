"""Sound: narration (TTS backends), music, effects on cue, captions and loudness — the step between the
cut and delivery. `prepare` at plan time, `finish` after the cut; see `step.py`."""

from .loudness import PRESETS, Loudness, LoudnessTarget, measure, parse_target
from .options import SoundOptions
from .step import AudioReport, finish, prepare
from .voices import Span, Speech, Voice, available, get_voice, register

__all__ = ["AudioReport", "Loudness", "LoudnessTarget", "PRESETS", "SoundOptions", "Span", "Speech", "Voice",
           "available", "finish", "get_voice", "measure", "parse_target", "prepare", "register"]
