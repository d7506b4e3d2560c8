"""Finding and running ffmpeg. Resolution order: REELWRIGHT_FFMPEG, PATH, imageio-ffmpeg's binary.

Every failure raises FFmpegError with argv and the stderr tail; progress is read from
`-progress pipe:1` when a callback is given."""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path

from ..errors import FFmpegError, MissingDependencyError

INSTALL_HINT = "apt-get install -y ffmpeg   (or: pip install imageio-ffmpeg)"


@functools.lru_cache(maxsize=None)
def _setpriv() -> str | None:
    import sys

    return shutil.which("setpriv") if sys.platform.startswith("linux") else None


def dies_with_parent(argv: Sequence[str]) -> list[str]:
    """`argv` run so the child (ffmpeg, ffprobe) gets SIGKILL when reelwright dies, kill -9 included: a
    killed run must not leave an orphaned encoder writing into the run folder. util-linux `setpriv
    --pdeathsig` sets it and execs the command (a preexec_fn would run Python in a forked child of a
    threaded process, which can crash or deadlock); without setpriv the command runs as it is."""
    exe = _setpriv()
    return [exe, "--pdeathsig", "KILL", *argv] if exe else list(argv)


@functools.lru_cache(maxsize=None)
def ffmpeg_exe() -> str:
    env = os.environ.get("REELWRIGHT_FFMPEG")
    if env:
        if Path(env).is_file() and os.access(env, os.X_OK):
            return env
        raise MissingDependencyError(f"ffmpeg at REELWRIGHT_FFMPEG={env}", INSTALL_HINT)
    found = shutil.which("ffmpeg")
    if found:
        return found
    try:
        import imageio_ffmpeg

        return imageio_ffmpeg.get_ffmpeg_exe()
    except Exception:  # noqa: BLE001 - any failure means "not available"
        raise MissingDependencyError("ffmpeg", INSTALL_HINT) from None


@functools.lru_cache(maxsize=None)
def ffprobe_exe() -> str | None:
    """ffprobe beside the chosen ffmpeg, or on PATH; None when only PyAV can probe."""
    sibling = Path(ffmpeg_exe()).with_name("ffprobe")
    if sibling.is_file():
        return str(sibling)
    return shutil.which("ffprobe")


def run_ffmpeg(
    args: Sequence[str | os.PathLike[str]],
    *,
    progress: Callable[[float], None] | None = None,
    duration_s: float | None = None,
    timeout: float | None = None,
    loglevel: str = "error",
) -> subprocess.CompletedProcess[str]:
    """Run `ffmpeg -hide_banner -nostdin -y <args>`; raise FFmpegError on failure.
    `loglevel="info"` keeps filter output (showinfo, blackdetect) in the returned stderr.

    With `progress` and `duration_s`, calls progress(fraction) as ffmpeg reports out_time."""
    argv = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-y", "-loglevel", loglevel]
    if progress is not None:
        argv += ["-progress", "pipe:1", "-nostats"]
    argv += [str(a) for a in args]
    if progress is None:
        try:
            proc = subprocess.run(dies_with_parent(argv), capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            raise FFmpegError(argv, -1, f"timed out after {timeout} s") from exc
        if proc.returncode != 0:
            raise FFmpegError(argv, proc.returncode, proc.stderr)
        return proc
    return _run_with_progress(argv, progress, duration_s, timeout)


def _run_with_progress(argv: list[str], progress: Callable[[float], None], duration_s: float | None,
                       timeout: float | None) -> subprocess.CompletedProcess[str]:
    import tempfile

    with tempfile.TemporaryFile(mode="w+") as err:
        proc = subprocess.Popen(dies_with_parent(argv), stdout=subprocess.PIPE, stderr=err, text=True)
        assert proc.stdout is not None
        for line in proc.stdout:
            key, _, value = line.strip().partition("=")
            if key == "out_time_us" and duration_s and value.isdigit():
                progress(min(1.0, int(value) / 1e6 / duration_s))
            elif key == "progress" and value == "end":
                progress(1.0)
        try:
            rc = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            proc.kill()
            raise FFmpegError(argv, -1, f"timed out after {timeout} s") from exc
        err.seek(0)
        stderr = err.read()
    if rc != 0:
        raise FFmpegError(argv, rc, stderr)
    return subprocess.CompletedProcess(argv, rc, "", stderr)
