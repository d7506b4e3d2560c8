"""Entry points for a CLI run in a subprocess, read from this checkout's pyproject.toml.

The shared virtualenv's installed metadata lists the generators of the checkout it was installed from; a
subprocess run from another checkout would not see generators that this one adds. A dist-info folder with
this checkout's `reelwright.generators` table, put first on PYTHONPATH, lets `reelwright make` load them
through the real entry-point path (a fresh `pip install -e .` makes this a no-op)."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def entry_points_dir(folder: Path) -> Path:
    table = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["entry-points"]
    dist = Path(folder) / "reelwright_checkout_entry_points-0.0.dist-info"
    dist.mkdir(parents=True, exist_ok=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: reelwright-checkout-entry-points\nVersion: 0.0\n")
    lines = []
    for group, entries in table.items():
        lines.append(f"[{group}]")
        lines += [f"{name} = {target}" for name, target in entries.items()]
    (dist / "entry_points.txt").write_text("\n".join(lines) + "\n")
    return Path(folder)


def cli_env(folder: Path, **extra: str) -> dict[str, str]:
    """os.environ plus a PYTHONPATH of this checkout's src, the entry points above and the checkout itself."""
    paths = [str(ROOT / "src"), str(entry_points_dir(folder)), str(ROOT)]
    old = os.environ.get("PYTHONPATH")
    return {**os.environ, "PYTHONPATH": os.pathsep.join(paths + ([old] if old else [])), **extra}
