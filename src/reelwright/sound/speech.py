"""Narration audio for a plan: each voice-over cue synthesized once (cached by voice and text, so an edit
that does not change a line does not synthesize it again), placed after its shot's cut, and sped up a
little when it would run into the next line."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from ..media.ffmpeg import run_ffmpeg
from ..media.util import atomic_output
from ..plan import AudioCue, Plan
from .voices import Span, Speech, Voice

LEAD_S = 0.25  # a line starts this long after its shot's cut
GAP_S = 0.1  # and ends at least this long before the next line
MAX_TEMPO = 1.5  # faster than this sounds like a disclaimer


@dataclass
class Line:
    """A synthesized line in the video: its speech, where it starts (s), and how much it was sped up."""

    cue: AudioCue
    speech: Speech
    start: float
    tempo: float = 1.0

    @property
    def end(self) -> float:
        return self.start + self.speech.duration

    def words(self) -> list[Span]:
        return [Span(text=w.text, start=round(self.start + w.start, 3), end=round(self.start + w.end, 3))
                for w in self.speech.words]

    def sentences(self) -> list[Span]:
        return [Span(text=s.text, start=round(self.start + s.start, 3), end=round(self.start + s.end, 3))
                for s in self.speech.sentences]


def synthesize(voice: Voice, text: str, cache: Path) -> Speech:
    """`voice` speaking `text`, from the cache when this voice said exactly this before."""
    key = hashlib.sha256(f"{voice.name}\n{text}".encode()).hexdigest()[:20]
    wav, meta = cache / f"{key}.wav", cache / f"{key}.json"
    if wav.is_file() and meta.is_file():
        try:
            return Speech.model_validate_json(meta.read_text(encoding="utf-8"))
        except ValueError:
            pass
    cache.mkdir(parents=True, exist_ok=True)
    speech = voice.speak(text, wav)
    meta.write_text(speech.model_dump_json(), encoding="utf-8")
    return speech


def _tempo(speech: Speech, factor: float, dst: Path) -> Speech:
    with atomic_output(dst) as tmp:
        run_ffmpeg(["-i", str(speech.path), "-af", f"atempo={factor:.4f}", "-c:a", "pcm_s16le", str(tmp)])

    def scale(spans: list[Span]) -> list[Span]:
        return [Span(text=s.text, start=s.start / factor, end=s.end / factor) for s in spans]

    return speech.model_copy(update={"path": dst, "duration": speech.duration / factor, "words": scale(speech.words),
                                     "sentences": scale(speech.sentences)})


def lay_out(plan: Plan, voice: Voice, cache: Path, progress=None) -> list[Line]:
    """Synthesize every voice-over cue and place it; a line longer than its room is sped up (≤ MAX_TEMPO),
    and what still does not fit runs on (the plan-time check keeps that rare)."""
    ids = {s.id for s in plan.shots}
    # a line belongs to its shot: an edit that moved the shot moves the line, one that cut the shot drops it
    cues = [c.model_copy(update={"start": plan.shot_start(plan.shot(c.shot))}) if c.shot in ids else c
            for c in plan.audio if c.kind == "voiceover" and c.text.strip() and (c.shot is None or c.shot in ids)]
    cues = [c for c in sorted(cues, key=lambda c: c.start) if c.start < plan.duration]
    lines: list[Line] = []
    for i, cue in enumerate(cues):
        if progress:
            progress(i / max(1, len(cues)))
        lines.append(Line(cue, synthesize(voice, cue.text, cache), float(cue.start) + LEAD_S))
    total = float(plan.duration)
    for i, line in enumerate(lines):
        limit = (lines[i + 1].start - GAP_S) if i + 1 < len(lines) else total - GAP_S
        room = limit - line.start
        if line.speech.duration > room * 1.02 and room > 0:  # 2% over only eats into the gap
            factor = min(MAX_TEMPO, line.speech.duration / room)
            key = line.speech.path.stem
            line.speech = _tempo(line.speech, factor, cache / f"{key}-x{factor:.3f}.wav")
            line.tempo = factor
            if line.speech.duration > room:  # still long: start at the cut itself
                line.start = max(float(line.cue.start), limit - line.speech.duration)
    if progress:
        progress(1.0)
    return lines


def save_timings(lines: list[Line], path: Path) -> None:
    """Word and sentence timings of the placed narration (for captions, edits and inspection)."""
    data = [{"shot": ln.cue.shot, "text": ln.cue.text, "start": ln.start, "tempo": ln.tempo,
             "timing": ln.speech.timing, "words": [w.model_dump() for w in ln.words()],
             "sentences": [s.model_dump() for s in ln.sentences()]} for ln in lines]
    path.write_text(json.dumps(data, indent=1), encoding="utf-8")
