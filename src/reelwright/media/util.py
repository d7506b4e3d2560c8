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
    """THE way reelwright writes a file. Yield a temporary path beside `dst`, unique to this writer
    (same suffix, so ffmpeg picks the same muxer); when the block succeeds, fsync it and rename it onto
    `dst` (then fsync the folder), so a reader or a crash sees the old file or the new one, never a mix
    — even with several processes delivering to one path. Delete it when the block fails."""
    dst = Path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(f".{dst.stem}.{os.getpid()}-{uuid.uuid4().hex[:8]}.part{dst.suffix}")
    try:
        yield tmp
        if not tmp.exists():
            raise InputFileError(f"nothing was written for {dst}")
        _fsync_path(tmp)
        os.replace(tmp, dst)
        _fsync_path(dst.parent, directory=True)
    finally:
        tmp.unlink(missing_ok=True)


def _fsync_path(path: Path, *, directory: bool = False) -> None:
    try:
        fd = os.open(path, os.O_RDONLY | (os.O_DIRECTORY if directory else 0))
    except OSError:
        return  # some filesystems do not open folders; the rename is still atomic
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_atomic(path: str | Path, data: str | bytes) -> None:
    """Write bytes or text through `atomic_output`."""
    with atomic_output(path) as tmp:
        tmp.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)


def copy_atomic(src: str | Path, dst: str | Path) -> Path:
    """Copy `src` to `dst` through `atomic_output`."""
    import shutil

    with atomic_output(dst) as tmp:
        shutil.copyfile(src, tmp)
    return Path(dst)


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
