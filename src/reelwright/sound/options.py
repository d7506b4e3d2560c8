"""The sound settings of a make: voice, TTS backend, timing, music, effects folder, subtitles, loudness."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from ..errors import BriefError
from .loudness import parse_target


class SoundOptions(BaseModel):
    """`voice`: auto | none | TEXT | FILE.txt | None (the request's words, else the mode decides).
    `music`: a sound file or None. `subtitles`: file (SRT+VTT beside the output), burn, none."""

    model_config = ConfigDict(extra="forbid")
    voice: str | None = None
    tts: str = "espeak"
    timing: Literal["shots", "narration"] = "shots"
    music: Path | None = None
    sfx: Path | None = None
    subtitles: Literal["file", "burn", "none"] = "file"
    loudness: str = "social"

    @classmethod
    def parse(cls, **values) -> "SoundOptions":
        """From loose flag values; a bad one is a BriefError of one line (not pydantic's report)."""
        try:
            return cls(**{k: v for k, v in values.items() if v is not None})
        except ValidationError as exc:
            first = exc.errors()[0]
            msg = str(first.get("ctx", {}).get("error") or first["msg"]).removeprefix("Value error, ")
            raise BriefError(msg if "error" in first.get("ctx", {}) else f"--{first['loc'][0]}: {msg}") from None

    @field_validator("music", mode="before")
    @classmethod
    def _music_none(cls, v):
        return None if isinstance(v, str) and v.strip().lower() in ("", "none", "off") else v

    @field_validator("subtitles", mode="before")
    @classmethod
    def _subtitles(cls, v):
        if isinstance(v, str):
            v = v.strip().lower()
            v = {"srt": "file", "vtt": "file", "yes": "file", "on": "file", "off": "none", "no": "none"}.get(v, v)
            if v not in ("file", "burn", "none"):
                raise BriefError(f"unknown --subtitles {v!r}: use file, burn or none")
        return v

    @field_validator("timing", mode="before")
    @classmethod
    def _timing(cls, v):
        if isinstance(v, str):
            v = v.strip().lower()
            if v not in ("shots", "narration"):
                raise BriefError(f"unknown --timing {v!r}: use shots or narration")
        return v

    @field_validator("loudness")
    @classmethod
    def _loudness(cls, v: str) -> str:
        parse_target(v)
        return v
