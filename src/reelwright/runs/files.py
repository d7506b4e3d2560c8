"""Reading the files a run depends on without trusting them: a size and type check before any byte is
read (a plan path may be /dev/zero or a FIFO), and one-line errors for truncated or wrong-typed JSON."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from ..errors import InputFileError

M = TypeVar("M", bound=BaseModel)

# A plan of a few hundred shots is well under 1 MB; run records grow with history but stay small.
MAX_JSON_BYTES = 16 * 1024 * 1024


def check_regular(path: Path, what: str, max_bytes: int) -> int:
    """The size of `path` if it is a regular file no larger than `max_bytes`; InputFileError otherwise.
    Checked with stat before opening, so a device or FIFO is never read (opening a FIFO would block)."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise InputFileError(f"{what} {path} not found") from None
    except OSError as exc:
        raise InputFileError(f"cannot read {what} {path}: {exc.strerror or exc}") from None
    if not stat.S_ISREG(st.st_mode):
        raise InputFileError(f"{what} {path} is not a regular file")
    if st.st_size > max_bytes:
        raise InputFileError(f"{what} {path} is too large ({st.st_size} bytes; at most {max_bytes})")
    return st.st_size


def read_bounded(path: Path, what: str, *, max_bytes: int = MAX_JSON_BYTES) -> str:
    """The text of a small regular file; never more than `max_bytes` are read even if it grows meanwhile."""
    path = Path(path)
    check_regular(path, what, max_bytes)
    try:
        with open(path, "rb") as fh:
            data = fh.read(max_bytes + 1)
    except OSError as exc:
        raise InputFileError(f"cannot read {what} {path}: {exc.strerror or exc}") from None
    if len(data) > max_bytes:
        raise InputFileError(f"{what} {path} is too large (at most {max_bytes} bytes)")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise InputFileError(f"{what} {path} is not UTF-8 text") from None


def load_json(path: Path, what: str, *, max_bytes: int = MAX_JSON_BYTES) -> Any:
    text = read_bounded(path, what, max_bytes=max_bytes)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputFileError(f"{what} {path} is not valid JSON (line {exc.lineno}: {exc.msg}); "
                             "it may have been cut short") from None
    except RecursionError:
        raise InputFileError(f"{what} {path} is nested too deeply") from None


def load_model(model: type[M], path: Path, what: str, *, max_bytes: int = MAX_JSON_BYTES) -> M:
    """A pydantic model from a JSON file, or one line naming the file and the first bad field."""
    data = load_json(path, what, max_bytes=max_bytes)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(x) for x in first["loc"]) or "top level"
        ctx = (first.get("ctx") or {}).get("error")
        raise InputFileError(f"{what} {path} is invalid at {loc}: {ctx or first['msg']}") from None
