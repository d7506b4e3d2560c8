"""The README's examples work as written: its Python block runs, its command lines parse and plan."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"


def blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)


def test_readme_opens_with_the_two_commands():
    first_two = blocks("bash")[:2]
    assert first_two[0].strip().startswith("bash scripts/setup.sh && .venv/bin/reelwright make ")
    assert first_two[1].strip() == "bash scripts/test.sh"
    ci = (README.parent / ".ci" / "run").read_text()
    assert "bash scripts/test.sh" in ci


def test_python_example_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code = blocks("python")[0]
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "12"
    assert (tmp_path / "dog.mp4").is_file()


def test_every_make_example_in_the_usage_block_plans(tmp_path):
    usage = blocks("bash")[2]
    for line in usage.splitlines():
        line = line.split("#")[0].strip()
        if not line.startswith("reelwright make") or "--plan" in line:
            continue
        argv = shlex.split(line)[2:]
        request = argv[0]
        opts = [a for a in argv[1:]]
        # plan instead of make: same parsing, no rendering; drop make-only flags and missing ref files
        keep, skip = [], False
        for a in opts:
            if skip:
                skip = False
                continue
            if a in ("-o", "--output", "--ref"):
                skip = True
                continue
            keep.append(a)
        proc = subprocess.run([sys.executable, "-m", "reelwright.cli", "plan", request, *keep],
                              capture_output=True, text=True, timeout=120, cwd=tmp_path)
        assert proc.returncode == 0, (line, proc.stderr)
        assert "total " in proc.stdout


def section(title: str) -> str:
    text = README.read_text(encoding="utf-8")
    return text.split(f"## {title}\n", 1)[1].split("\n## ", 1)[0]


def test_layout_paragraph_names_only_what_exists():
    root, src = README.parent, README.parent / "src" / "reelwright"
    named = re.findall(r"`([\w./]+(?:\.py|/))`", section("Layout"))
    assert {"cli/", "config.py", "encode.py", "fonts.py"} <= set(named)
    # a folder or top-level module by its path; a file inside a folder (cli's `shared.py`) by its name
    missing = [n for n in named if not ((src / n).exists() or (root / n).exists() or any(src.rglob(n)))]
    assert missing == []


def test_every_option_in_the_table_is_a_real_flag():
    first_column = re.findall(r"^\| (`-.*?) \|", section("Using it"), flags=re.M)
    flags = [f for cell in first_column for f in re.findall(r"(?<![\w-])--?[a-z][\w-]*", cell)]
    assert {"-o", "--output", "--fps", "--generator", "--runs-dir"} <= set(flags)
    helps = "".join(subprocess.run([sys.executable, "-m", "reelwright.cli", cmd, "--help"], capture_output=True,
                                   text=True, timeout=60, env={**os.environ, "COLUMNS": "200"}).stdout
                    for cmd in ("make", "plan"))
    assert [f for f in flags if f not in helps] == []
