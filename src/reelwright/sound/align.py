"""Word timings for speech that came without them (OpenAI-style /v1/audio/speech returns only audio).

espeak-ng says the same text offline, with word events; both recordings are reduced to where there is
sound, and espeak's word times are carried across by the share of voiced time elapsed (a monotone warp
that lines up pauses with pauses and spreads each stretch of speech evenly). An estimate, reported as
`alignment`: words after a pause land within a few hundredths of a second on tests, words inside a
stretch of speech within about a word."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from .audiofile import decode, envelope
from .voices import Span, sentence_spans

_RATE = 16000
_WINDOW = 0.01


def voiced_profile(samples: np.ndarray, rate: int = _RATE) -> np.ndarray:
    """Cumulative voiced seconds at each 10 ms step (a window counts when louder than 5% of the loud level)."""
    env = envelope(samples, rate, _WINDOW)
    if len(env) == 0:
        return np.zeros(1)
    loud = np.percentile(env, 95)
    voiced = env > max(loud * 0.05, 1e-4)
    return np.concatenate([[0.0], np.cumsum(voiced) * _WINDOW])


PAUSE_S = 0.15


def pauses(profile: np.ndarray) -> list[tuple[int, int]]:
    """Silent stretches of at least PAUSE_S between speech, as (first, last+1) 10 ms steps."""
    voiced = np.diff(profile) > 0
    idx = np.nonzero(voiced)[0]
    if len(idx) == 0:
        return []
    out, run_start = [], None
    for k in range(int(idx[0]), int(idx[-1]) + 1):
        if not voiced[k] and run_start is None:
            run_start = k
        elif voiced[k] and run_start is not None:
            if (k - run_start) * _WINDOW >= PAUSE_S:
                out.append((run_start, k))
            run_start = None
    return out


def _share_map(i: int, src: np.ndarray, dst: np.ndarray, s0: int, s1: int, d0: int, d1: int, starts: bool) -> int:
    """Step i of src within [s0, s1] to dst within [d0, d1] by the share of voiced time there."""
    sv = src[s1] - src[s0]
    dv = dst[d1] - dst[d0]
    if sv <= 0 or dv <= 0:
        return d0 + round((i - s0) * (d1 - d0) / max(1, s1 - s0))
    goal = dst[d0] + (src[i] - src[s0]) / sv * dv
    seg = dst[d0:d1 + 1]
    j = int(np.searchsorted(seg, goal, side="right")) - 1 if starts else int(np.searchsorted(seg, goal))
    return d0 + min(d1 - d0, max(0, j))


def warp(times: list[float], source: np.ndarray, target: np.ndarray, *, starts: bool) -> list[float]:
    """Carry times from the source recording to the target. Pauses are matched first (each source pause to
    the nearest unused target pause where the voiced-share warp predicts it), then each stretch between
    matched pauses is mapped by the share of voiced time elapsed in it. A start lands where a word begins
    after a pause, an end where the sound stops before one."""
    ns, nt = len(source) - 1, len(target) - 1
    anchors_s, anchors_t = [0], [0]
    used = 0
    tp = pauses(target)
    for a, b in pauses(source):
        guess = _share_map(b, source, target, 0, ns, 0, nt, True)
        options = [k for k in range(used, len(tp)) if abs(tp[k][1] - guess) * _WINDOW <= 0.8]
        if not options:
            continue
        k = min(options, key=lambda k: abs(tp[k][1] - guess))
        anchors_s += [a, b]
        anchors_t += [tp[k][0], tp[k][1]]
        used = k + 1
    anchors_s.append(ns)
    anchors_t.append(nt)
    out = []
    for t in times:
        i = min(ns, max(0, int(round(t / _WINDOW))))
        seg = max(0, int(np.searchsorted(anchors_s, i, side="right")) - 1)
        if seg >= len(anchors_s) - 1:
            seg = len(anchors_s) - 2
        s0, s1, d0, d1 = anchors_s[seg], anchors_s[seg + 1], anchors_t[seg], anchors_t[seg + 1]
        out.append(_share_map(i, source, target, s0, s1, d0, d1, starts) * _WINDOW)
    return out


def align(text: str, audio: Path, duration: float) -> tuple[list[Span], list[Span]]:
    """(words, sentences) of `text` as spoken in `audio`, guided by espeak's reading of the same text."""
    from .espeak import EspeakVoice

    with tempfile.TemporaryDirectory() as tmp:
        guide = EspeakVoice().speak(text, Path(tmp) / "guide.wav")
        src = voiced_profile(decode(guide.path, rate=_RATE))
    dst = voiced_profile(decode(audio, rate=_RATE))
    starts = warp([w.start for w in guide.words], src, dst, starts=True)
    ends = warp([w.end for w in guide.words], src, dst, starts=False)
    words = [Span(text=w.text, start=round(a, 3), end=round(min(duration, max(a, b)), 3))
             for w, a, b in zip(guide.words, starts, ends)]
    positions, pos = [], 0
    for w in words:
        found = text.find(w.text, pos)
        positions.append(found if found >= 0 else pos)
        pos = positions[-1] + len(w.text)
    return words, sentence_spans(text, words, positions)
