"""Measuring sound in tests, independently of the code under test: decoded samples through the ffmpeg
CLI and numpy, loudness from ffmpeg's ebur128 summary parsed here."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import numpy as np

from reelwright.media.ffmpeg import ffmpeg_exe


def samples(path: Path, rate: int = 48000) -> np.ndarray:
    out = subprocess.run([ffmpeg_exe(), "-v", "error", "-i", str(path), "-map", "0:a:0", "-ac", "1", "-ar", str(rate),
                          "-f", "f32le", "-"], capture_output=True, check=True).stdout
    return np.frombuffer(out, dtype=np.float32)


def ebur128(path: Path) -> dict[str, float]:
    err = subprocess.run([ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", str(path), "-map", "0:a:0", "-af",
                          "ebur128=peak=true", "-f", "null", "-"], capture_output=True, text=True, check=True).stderr
    tail = err[err.rfind("Summary:"):]
    return {"I": float(re.search(r"I:\s+(-?[\d.]+) LUFS", tail).group(1)),
            "TP": float(re.search(r"Peak:\s+(-?[\d.]+) dBFS", tail).group(1)),
            "LRA": float(re.search(r"LRA:\s+(-?[\d.]+) LU", tail).group(1))}


def rms_db(x: np.ndarray) -> float:
    return 20 * np.log10(max(1e-9, float(np.sqrt(np.mean(x.astype(np.float64) ** 2)))))


def tone_level_db(x: np.ndarray, freq: float, rate: int = 48000) -> float:
    """Level of one sine component (dBFS of its amplitude), by correlation with it over a whole window."""
    t = np.arange(len(x)) / rate
    c = np.dot(x, np.cos(2 * np.pi * freq * t)) * 2 / len(x)
    s = np.dot(x, np.sin(2 * np.pi * freq * t)) * 2 / len(x)
    return 20 * np.log10(max(1e-9, float(np.hypot(c, s))))


def first_rise(x: np.ndarray, near: float, rate: int = 48000, window_ms: float = 1.0, span: float = 0.3) -> float:
    """The first moment after near-span where the sound's high frequencies (a second difference: pads and
    music beds are mostly low) rise above 6x their median level in the 100 ms before."""
    hop = int(rate * window_ms / 1000)
    a = int((near - span) * rate)
    seg = np.diff(x[a - 2: a + int(2 * span * rate)].astype(np.float64), n=2)
    env = np.sqrt((seg[: len(seg) // hop * hop].reshape(-1, hop) ** 2).mean(axis=1))
    floor = np.median(env[:100]) + 1e-7
    above = np.nonzero(env > 6 * floor)[0]
    assert len(above), "no rise found"
    return (a + int(above[0]) * hop) / rate


def speech_like(x: np.ndarray, rate: int = 48000) -> float:
    """Syllable-rate modulation of a stretch: the spread of its 10 ms level (dB) — speech comes and goes
    several times a second, a pad or a steady tone does not."""
    hop = rate // 100
    env = np.sqrt((x[: len(x) // hop * hop].reshape(-1, hop).astype(np.float64) ** 2).mean(axis=1)) + 1e-6
    db = 20 * np.log10(env)
    return float(np.percentile(db, 90) - np.percentile(db, 10))


def band_share_db(x: np.ndarray, lo: float = 1000.0, hi: float = 4000.0, rate: int = 48000) -> float:
    """The share of a stretch's energy between lo and hi Hz (dB): the voice's presence band."""
    spec = np.abs(np.fft.rfft(x.astype(np.float64))) ** 2
    freqs = np.fft.rfftfreq(len(x), 1 / rate)
    band = spec[(freqs >= lo) & (freqs < hi)].sum()
    return 10 * np.log10(max(1e-20, band) / max(1e-20, spec.sum()))
