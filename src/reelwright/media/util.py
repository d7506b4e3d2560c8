"""Small helpers shared by the media tools: atomic outputs, filtergraph escaping, number formatting.

Every tool writes to a temporary name beside its destination and renames it only on success."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from fractions import Fraction
from pathlib import Path

from ..errors import InputFileError, ToolArgumentError


@contextmanager
def atomic_output(dst: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside `dst` (same suffix, so ffmpeg picks the same muxer);
    rename it onto `dst` when the block succeeds, delete it when it fails."""
    dst = Path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(f".{dst.stem}.{uuid.uuid4().hex[:8]}.part{dst.suffix}")
    try:
        yield tmp
        if not tmp.exists():
            raise InputFileError(f"nothing was written for {dst}")
        os.replace(tmp, dst)
    finally:
        tmp.unlink(missing_ok=True)


def same_file(a: str | Path, b: str | Path) -> bool:
    try:
        return Path(a).resolve() == Path(b).resolve()
    except OSError:
        return False


def check_distinct(src: str | Path, dst: str | Path) -> None:
    """Refuse to write a tool's output over its own input (it is read while the output is written)."""
    if same_file(src, dst):
        raise ToolArgumentError(f"output {dst} is the same file as the input; choose another name")


def filter_escape(value: str) -> str:
    """Escape a value for use as a filter option inside an ffmpeg filtergraph.

    Two levels: the option parser treats \\ ' : specially; the graph parser treats \\ ' [ ] , ; specially."""
    level1 = value.replace("\\", "\\\\").replace("'", "\\'").replace(":", "\\:")
    out = []
    for ch in level1:
        if ch in "\\'[],;":
            out.append("\\")
        out.append(ch)
    return "".join(out)


def fsec(value: Fraction | float | int) -> str:
    """Seconds as a decimal string for ffmpeg (microsecond precision, no exponent)."""
    text = f"{float(value):.6f}".rstrip("0").rstrip(".")
    return text or "0"


def frac_arg(value: Fraction) -> str:
    """An exact rational for ffmpeg options that accept one (fps=30000/1001)."""
    value = Fraction(value)
    return str(value.numerator) if value.denominator == 1 else f"{value.numerator}/{value.denominator}"
