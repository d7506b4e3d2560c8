"""The core's shape holds: no import circle touches the core modules (read with ast, see
scripts/import_cycles.py) and no core module grows past 500 lines."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORE = ["reelwright.director", "reelwright.tools", "reelwright.agent", "reelwright.api", "reelwright.editing",
        "reelwright.runs", "reelwright.errors", "reelwright.context", "reelwright.events", "reelwright.progress"]


def test_no_import_circle_touches_the_core():
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "import_cycles.py"), "--only", *CORE],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "modules," in done.stdout  # it read the tree


def test_the_circle_finder_finds_a_circle(tmp_path):
    """The check can fail: two modules importing each other inside functions are a circle."""
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import import_cycles
    finally:
        sys.path.pop(0)
    assert import_cycles.cycles({"a": {"b"}, "b": {"a"}, "c": {"a"}}) == [["a", "b"]]
    pkg = tmp_path / "reelwright"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "x.py").write_text("def f():\n    from . import y\n")
    (pkg / "y.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .x import f\n"
                              "from .x import f as g\n")
    import_cycles.SRC = tmp_path
    mods = {"reelwright", "reelwright.x", "reelwright.y"}
    assert import_cycles.imports_of(pkg / "x.py", mods, False) == {"reelwright.y"}
    assert import_cycles.imports_of(pkg / "x.py", mods, True) == set()
    assert import_cycles.imports_of(pkg / "y.py", mods, False) == {"reelwright.x"}


def test_core_modules_stay_under_500_lines():
    src = ROOT / "src"
    for path in sorted((src / "reelwright").rglob("*.py")):
        name = ".".join(path.relative_to(src).with_suffix("").parts).removesuffix(".__init__")
        if name.startswith(tuple(CORE)):
            lines = len(path.read_text(encoding="utf-8").splitlines())
            assert lines <= 500, f"{name}: {lines} lines"
