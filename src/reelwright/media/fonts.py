"""The one font lookup: drawtext overlays, the animatic's cards and its running timecode all find their
TrueType files here — REELWRIGHT_FONT (for the regular face), known folders, then fontconfig."""

from __future__ import annotations

import os
import shutil
import subprocess
from functools import lru_cache
from pathlib import Path
from typing import Literal

from ..errors import MissingDependencyError

FontKind = Literal["regular", "bold", "mono", "condensed"]
FONT_DIRS = ("/usr/share/fonts/truetype/dejavu", "/usr/share/fonts/dejavu", "/usr/local/share/fonts",
             "/Library/Fonts", "C:/Windows/Fonts")
FONT_NAMES: dict[str, tuple[str, ...]] = {
    "regular": ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "Arial.ttf", "arial.ttf", "LiberationSans-Regular.ttf"),
    "bold": ("DejaVuSans-Bold.ttf", "Arial Bold.ttf", "arialbd.ttf", "LiberationSans-Bold.ttf"),
    "mono": ("DejaVuSansMono.ttf", "Courier New.ttf", "cour.ttf", "LiberationMono-Regular.ttf"),
    "condensed": ("DejaVuSansCondensed-Bold.ttf", "Arial Narrow Bold.ttf", "arialnb.ttf", "LiberationSansNarrow-Bold.ttf"),
}
_FC_PATTERNS = {"regular": "sans", "bold": "sans:bold", "mono": "monospace", "condensed": "sans:condensed:bold"}
INSTALL_HINT = "apt-get install fonts-dejavu-core   (or set REELWRIGHT_FONT=/path/to/font.ttf)"


def find_font(kind: FontKind = "regular") -> Path:
    """A TrueType file for `kind`, or `MissingDependencyError` naming the install command."""
    found = font_file(kind)
    if found is None:
        raise MissingDependencyError(f"a TrueType font ({kind})", INSTALL_HINT)
    return found


def font_file(kind: FontKind = "regular") -> Path | None:
    """Like `find_font`, but None when no font is installed (the animatic then draws with Pillow's own)."""
    if kind not in FONT_NAMES:
        raise ValueError(f"unknown font kind {kind!r}: use one of {', '.join(FONT_NAMES)}")
    env = os.environ.get("REELWRIGHT_FONT")
    if env and kind == "regular":
        if Path(env).is_file():
            return Path(env)
        raise MissingDependencyError(f"the font REELWRIGHT_FONT={env}", "point REELWRIGHT_FONT at a .ttf file")
    return _installed(kind)


@lru_cache(maxsize=None)
def _installed(kind: str) -> Path | None:
    # Cached: every shot of an animatic asks, and fontconfig's answer does not change during a run.
    for folder in FONT_DIRS:
        for name in FONT_NAMES[kind]:
            if (Path(folder) / name).is_file():
                return Path(folder) / name
    fc = shutil.which("fc-match")
    if fc:
        try:
            out = subprocess.run([fc, "-f", "%{file}", _FC_PATTERNS[kind]], capture_output=True, text=True,
                                 timeout=10).stdout
        except (OSError, subprocess.TimeoutExpired):
            out = ""
        if out and Path(out).is_file():
            return Path(out)
    return None
