"""Loudness: measure (ffmpeg's ebur128, integrated / true peak / LRA) and bring a mix to a target.

Targets: `social` −14 LUFS (default), `broadcast` −23 (EBU R128), `atsc` −24 (A/85, peak −2 dBTP).
Normalizing is gain plus a 4×-oversampled limiter, measured again after the final AAC encode and corrected
(ffmpeg's two-pass loudnorm silently turns dynamic and can miss by 2 LU; AAC adds ~0.2 dB of true peak).
Sound shorter than 3 s is measured on a looped copy: integrated loudness needs enough 400 ms blocks."""

from __future__ import annotations

import math
import re
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from ..errors import BriefError, MediaError
from ..media.ffmpeg import run_ffmpeg

SHORT_S = 3.0


class LoudnessTarget(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    lufs: float
    true_peak: float  # dBTP ceiling


PRESETS = {"social": LoudnessTarget(name="social", lufs=-14.0, true_peak=-1.0),
           "broadcast": LoudnessTarget(name="broadcast", lufs=-23.0, true_peak=-1.0),
           "atsc": LoudnessTarget(name="atsc", lufs=-24.0, true_peak=-2.0)}


def parse_target(value: str | float | None) -> LoudnessTarget:
    """'social' | 'broadcast' | 'atsc' | a LUFS number like '-16' (true peak −1 dBTP)."""
    if value is None or value == "":
        return PRESETS["social"]
    text = str(value).strip().lower()
    if text in PRESETS:
        return PRESETS[text]
    try:
        lufs = float(text.removesuffix("lufs").strip())
    except ValueError:
        raise BriefError(f"unknown loudness {value!r}: use social (−14), broadcast (−23), atsc (−24) or a LUFS number") from None
    if not -40 <= lufs <= -5:
        raise BriefError(f"loudness {lufs:g} LUFS is out of range: use −40 to −5")
    return LoudnessTarget(name=f"{lufs:g} LUFS", lufs=lufs, true_peak=-1.0)


class Loudness(BaseModel):
    model_config = ConfigDict(extra="forbid")
    integrated: float  # LUFS
    true_peak: float  # dBTP
    lra: float  # LU


_SUMMARY = {"integrated": r"I:\s+(-?[\d.]+|-inf)\s+LUFS", "lra": r"LRA:\s+(-?[\d.]+)\s+LU",
            "true_peak": r"Peak:\s+(-?[\d.]+|-inf)\s+dBFS"}  # the true or sample peak, as measured


def measure(path: str | Path, *, duration: float | None = None, stream: str = "a:0", true_peak: bool = True) -> Loudness:
    """Integrated loudness, true peak and loudness range of `path`'s sound. `duration` (seconds), when
    known and under 3 s, makes the integrated figure come from a looped copy. Without `true_peak` the
    peak is the sample peak (half the work, for levelling before the mix)."""
    args: list[str] = []
    if duration is not None and 0 < duration < SHORT_S:
        args += ["-stream_loop", str(math.ceil(SHORT_S / duration))]
    peak = "true" if true_peak else "sample"
    args += ["-i", str(path), "-map", f"0:{stream}", "-af", f"ebur128=peak={peak}", "-f", "null", "-"]
    proc = run_ffmpeg(args, loglevel="info")
    return parse_summary(proc.stderr, str(path))


def parse_summary(stderr: str, what: str = "the sound") -> Loudness:
    """The figures of the last ebur128 Summary block in an ffmpeg log (run at loglevel info)."""
    text = stderr[stderr.rfind("Summary:"):]
    values: dict[str, float] = {}
    for key, rx in _SUMMARY.items():
        m = re.search(rx, text)
        if not m:
            raise MediaError(f"ebur128 gave no {key} for {what}")
        values[key] = -70.0 if m.group(1) == "-inf" else float(m.group(1))
    return Loudness(**values)


def gain_graph(gain_db: float, ceiling_db: float, rate: int = 48000) -> str:
    """Gain, then a limiter at `ceiling_db` working at 4× the rate, so inter-sample peaks are caught."""
    limit = max(0.0625, min(1.0, 10 ** (ceiling_db / 20)))
    return (f"volume={gain_db:.3f}dB,aresample={rate * 4},"
            f"alimiter=limit={limit:.5f}:attack=1:release=60:level=false,aresample={rate}")


def within(measured: Loudness, target: LoudnessTarget, tolerance: float = 0.5) -> bool:
    return abs(measured.integrated - target.lufs) <= tolerance and measured.true_peak <= target.true_peak
