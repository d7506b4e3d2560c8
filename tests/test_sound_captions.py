"""Captions: cues from word timings within 42 characters a line and two lines, never across narration
lines (shots); SRT and WebVTT read back by independent readers; burned in with libass from a path that
needs escaping."""

from __future__ import annotations

import numpy as np
import srt
import webvtt

from reelwright.media.ffmpeg import run_ffmpeg
from reelwright.sound import captions as cap
from reelwright.sound.voices import Span
from tests.conftest import make_test_clip


def _words(text: str, start: float, step: float = 0.35) -> list[Span]:
    return [Span(text=w, start=round(start + i * step, 3), end=round(start + i * step + 0.3, 3))
            for i, w in enumerate(text.split())]


LINES = [_words("Okay, you need to see Tide.", 0.25),
         _words("You know the feeling. Every single day, the same old struggle with bottles that leak everywhere.", 4.0),
         _words("Try Tide for yourself.", 12.0)]


def test_cues_respect_line_length_line_count_and_shots():
    cues = cap.group(LINES, 15.0)
    for c in cues:
        assert 1 <= len(c.lines) <= cap.MAX_LINES
        assert all(len(line) <= cap.MAX_LINE for line in c.lines)
        assert len(c.text.split()) <= cap.MAX_WORDS
        assert c.end > c.start
    assert all(a.end <= b.start for a, b in zip(cues, cues[1:]))
    # no cue mixes two narration lines (each belongs to its own shot)
    for line in LINES:
        words = {w.text for w in line}
        inside = [c for c in cues if line[0].start <= c.start <= line[-1].end]
        assert " ".join(c.text for c in inside) == " ".join(w.text for w in line)
        assert all(set(c.text.split()) <= words for c in inside)


def test_srt_and_vtt_are_read_back_by_independent_readers(tmp_path):
    cues = cap.group(LINES, 15.0)
    srt_path, vtt_path = cap.write(cues, tmp_path / "tide")
    assert srt_path.name == "tide.srt" and vtt_path.name == "tide.vtt"
    parsed = list(srt.parse(srt_path.read_text(encoding="utf-8")))
    assert [p.content.replace("\n", " ") for p in parsed] == [c.text for c in cues]
    assert [round(p.start.total_seconds(), 2) for p in parsed] == [round(c.start, 2) for c in cues]
    vtt = webvtt.read(str(vtt_path))
    assert [v.text.replace("\n", " ") for v in vtt] == [c.text for c in cues]
    h, m, sec = vtt[-1].end.split(":")
    assert abs(int(h) * 3600 + int(m) * 60 + float(sec) - cues[-1].end) < 0.01


def test_text_that_looks_like_markup_stays_text(tmp_path):
    cues = cap.group([_words(r"Use {\b1}code\N and <i>tags</i> freely.", 0.0)], 5.0)
    srt_path, _ = cap.write(cues, tmp_path / "odd")
    text = " ".join(p.content.replace("\n", " ") for p in srt.parse(srt_path.read_text(encoding="utf-8")))
    assert "code" in text and "freely." in text and "{" not in text


def test_burn_in_from_a_path_with_quotes_colons_and_commas(tmp_path):
    folder = tmp_path / "it's: a, [weird] folder"
    folder.mkdir()
    cues = cap.group([_words("Meet Tide, the bottle that keeps up.", 0.2)], 3.0)
    srt_path, _ = cap.write(cues, folder / "captions")
    clip = make_test_clip(tmp_path / "clip.mp4", seconds=3.0, audio=False, source="color")
    out = tmp_path / "burned.mp4"
    run_ffmpeg(["-i", str(clip), "-vf", cap.burn_filter(srt_path), "-c:v", "libx264", "-preset",
                "ultrafast", str(out)])
    plain = tmp_path / "plain.png"
    burned = tmp_path / "burned.png"
    run_ffmpeg(["-ss", "1.5", "-i", str(clip), "-frames:v", "1", str(plain)])
    run_ffmpeg(["-ss", "1.5", "-i", str(out), "-frames:v", "1", str(burned)])
    from PIL import Image

    a = np.asarray(Image.open(plain).convert("L"), dtype=np.float32)
    b = np.asarray(Image.open(burned).convert("L"), dtype=np.float32)
    lower, upper = b[b.shape[0] // 2:], b[: b.shape[0] // 2]
    assert (lower > 128).sum() > 50  # white caption text in the lower half…
    assert (upper > 128).sum() == 0 and (a > 128).sum() == 0  # …and nowhere else
