"""Exact time: frames at a rational fps, Fraction seconds, and the parsing of both.

Floats appear only at the edges (ffmpeg arguments, display)."""

from __future__ import annotations

from fractions import Fraction
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema


# Beyond these, a number is a typo or an attack (1e400 seconds), and would overflow float() downstream.
MAX_MAGNITUDE = 10**12
MAX_DENOMINATOR = 10**9


def bounded(value: Fraction) -> Fraction:
    """`value` if it is an exact number of sane size; ValueError (one line) otherwise."""
    if abs(value) > MAX_MAGNITUDE or value.denominator > MAX_DENOMINATOR:
        raise ValueError(f"number out of range: {show(value)}")
    return value


def show(value: Any) -> str:
    """A number for a message, even one too large for a float."""
    try:
        return f"{float(value):g}"
    except (OverflowError, ValueError, TypeError):
        text = str(value)
        return text if len(text) <= 24 else f"{text[:12]}…({len(text)} digits)"


def to_fraction(value: Any) -> Fraction:
    """Parse 24, 23.976, "30000/1001", "2.5" or a Fraction exactly (floats via their decimal repr);
    non-finite and absurdly large or fine numbers are refused."""
    return bounded(_to_fraction(value))


def _to_fraction(value: Any) -> Fraction:
    if isinstance(value, Fraction):
        return value
    if isinstance(value, bool):
        raise ValueError(f"not a number: {value!r}")
    if isinstance(value, int):
        return Fraction(value)
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError(f"not a finite number: {value!r}")
        return Fraction(repr(value))
    if isinstance(value, str):
        text = value.strip()
        try:
            return Fraction(text)
        except (ValueError, ZeroDivisionError):
            raise ValueError(f"not an exact number: {value!r}") from None
    raise ValueError(f"not a number: {value!r}")


def fraction_str(value: Fraction) -> str:
    return str(value.numerator) if value.denominator == 1 else f"{value.numerator}/{value.denominator}"


Frac = Annotated[
    Fraction,
    BeforeValidator(to_fraction),
    PlainSerializer(fraction_str, return_type=str),
    WithJsonSchema({"type": "string", "pattern": r"^\d+(/\d+)?$", "description": "exact rational, e.g. '24' or '30000/1001'"}),
]


def seconds_to_frames(seconds: Fraction, fps: Fraction) -> int:
    """Nearest whole frame count for a duration (half rounds up)."""
    exact = Fraction(seconds) * fps
    return int(exact + Fraction(1, 2)) if exact >= 0 else -int(-exact + Fraction(1, 2))


def frames_to_seconds(frames: int, fps: Fraction) -> Fraction:
    return Fraction(frames) / fps


def timecode(seconds: Fraction | float, fps: Fraction | None = None) -> str:
    """m:ss.mmm (or h:mm:ss.mmm) for display."""
    total_ms = int(round(float(seconds) * 1000))
    h, rem = divmod(total_ms, 3_600_000)
    m, rem = divmod(rem, 60_000)
    s, ms = divmod(rem, 1000)
    if h:
        return f"{h}:{m:02d}:{s:02d}.{ms:03d}"
    return f"{m}:{s:02d}.{ms:03d}"
