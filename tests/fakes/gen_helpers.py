"""Helpers the generator adapter tests share: a fake clock that sleeping advances, counting the
frames of a clip, and solid-colour test images."""

from __future__ import annotations

import subprocess
from pathlib import Path

from PIL import Image

from reelwright.media.ffmpeg import ffprobe_exe


class Clock:
    """A fake clock that sleeping advances: polls and backoff cost no real time."""

    def __init__(self):
        self.now = 0.0
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def __call__(self) -> float:
        return self.now


def probe_frames(path: Path) -> int:
    """The frames ffprobe decodes from the first video stream (counted, not read from the header)."""
    out = subprocess.run([ffprobe_exe(), "-v", "error", "-select_streams", "v:0", "-count_frames", "-show_entries",
                          "stream=nb_read_frames", "-of", "csv=p=0", str(path)], capture_output=True, text=True,
                         check=True)
    return int(out.stdout.strip())


def png(path: Path, color: tuple[int, int, int] = (200, 120, 40), size: tuple[int, int] = (64, 36)) -> Path:
    """A solid-colour PNG written to `path`."""
    Image.new("RGB", size, color).save(path)
    return path
