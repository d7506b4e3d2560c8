"""Captions from word timings: SRT and WebVTT beside the output (written by pysubs2), and the libass
burn-in filter. A cue holds at most two lines of ~42 characters and ~7 words, and never spans two
narration lines (each line belongs to one shot, so cues do not cross cuts)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict

from ..media.util import filter_escape
from .voices import Span

MAX_LINE = 42
MAX_LINES = 2
MAX_WORDS = 7
MIN_CUE_S = 0.7


class Cue(BaseModel):
    model_config = ConfigDict(extra="forbid")
    start: float
    end: float
    lines: list[str]

    @property
    def text(self) -> str:
        return " ".join(self.lines)


def _wrap(words: list[str]) -> list[str] | None:
    """Words into at most MAX_LINES lines of at most MAX_LINE characters, balanced; None if they do not fit."""
    text = " ".join(words)
    if len(text) <= MAX_LINE:
        return [text]
    best = None
    for i in range(1, len(words)):
        a, b = " ".join(words[:i]), " ".join(words[i:])
        if len(a) <= MAX_LINE and len(b) <= MAX_LINE and (best is None or abs(len(a) - len(b)) < best[0]):
            best = (abs(len(a) - len(b)), [a, b])
    return best[1] if best else None


def group(lines: list[list[Span]], video_end: float) -> list[Cue]:
    """Cues from each narration line's words (times in the video). A cue ends at a sentence end when it can,
    lasts at least MIN_CUE_S when there is room, and never runs into the next cue."""
    cues: list[Cue] = []
    for words in lines:
        chunk: list[Span] = []
        for w in words:
            trial = [s.text for s in chunk + [w]]
            if chunk and (len(trial) > MAX_WORDS or _wrap(trial) is None):
                cues.append(_cue(chunk))
                chunk = []
            chunk.append(w)
            if w.text.endswith((".", "!", "?")) and len(chunk) >= 3:
                cues.append(_cue(chunk))
                chunk = []
        if chunk:
            cues.append(_cue(chunk))
    for i, cue in enumerate(cues):
        limit = cues[i + 1].start if i + 1 < len(cues) else video_end
        cue.end = min(max(cue.end, cue.start + MIN_CUE_S), limit)
    return [c for c in cues if c.end > c.start]


def _cue(words: list[Span]) -> Cue:
    lines = _wrap([w.text for w in words]) or [" ".join(w.text for w in words)]
    return Cue(start=words[0].start, end=words[-1].end, lines=lines)


def write(cues: list[Cue], base: Path) -> list[Path]:
    """`base`.srt and `base`.vtt (base without suffix); returns the paths written."""
    import pysubs2

    subs = pysubs2.SSAFile()
    for c in cues:
        subs.append(pysubs2.SSAEvent(start=int(round(c.start * 1000)), end=int(round(c.end * 1000)),
                                     text=r"\N".join(_plain(line) for line in c.lines)))
    out = []
    for suffix, fmt in ((".srt", "srt"), (".vtt", "vtt")):
        path = base.with_suffix(suffix)
        tmp = path.with_name(f".{path.name}.part")
        subs.save(str(tmp), format_=fmt)
        tmp.replace(path)
        out.append(path)
    return out


def _plain(text: str) -> str:
    """Text that pysubs2 must not read as override tags ({...}) or line breaks (\\N)."""
    return text.replace("\\", "/").replace("{", "(").replace("}", ")")


def burn_filter(srt: Path) -> str:
    """The libass `subtitles` filter for an SRT file, the path escaped for the filtergraph (it may hold
    quotes, colons, commas, brackets). libass lays SRT out on a 288-line canvas scaled to the frame, so
    these sizes hold at any resolution: text about 1/18 of the frame high."""
    style = "FontName=DejaVu Sans,FontSize=16,Outline=1.5,Shadow=0,MarginV=14"
    return f"subtitles=filename={filter_escape(str(srt))}:force_style={filter_escape(style)}"
