"""`reelwright runs`, `cost` and `cache`: what the run store knows about every run, what they cost, and the
clip cache that keeps an identical request from being paid for twice."""

from __future__ import annotations

import json
import re
import sys
from typing import Annotated, Optional

import typer
from rich.markup import escape
from rich.table import Table

from ..errors import BriefError
from .shared import RunsDir, fail, guarded, out, settings

_UNITS = {"": 1, "b": 1, "k": 1 << 10, "kb": 1 << 10, "m": 1 << 20, "mb": 1 << 20, "g": 1 << 30, "gb": 1 << 30,
          "t": 1 << 40, "tb": 1 << 40}


def parse_size(text: str) -> int:
    """'500MB', '2g', '0' -> bytes."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*", text)
    if not m or m.group(2).lower() not in _UNITS:
        raise BriefError(f"cannot read size {text!r}: use e.g. 500MB, 2GB or 0")
    return int(float(m.group(1)) * _UNITS[m.group(2).lower()])


def parse_age(text: str) -> float:
    """'30d', '12h', '45m' -> seconds."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([dhm])\s*", text)
    if not m:
        raise BriefError(f"cannot read age {text!r}: use e.g. 30d, 12h or 45m")
    return float(m.group(1)) * {"d": 86400, "h": 3600, "m": 60}[m.group(2)]


def human(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if abs(n) < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"


def runs(
    rebuild: Annotated[bool, typer.Option("--rebuild", help="Re-index every run folder under the runs folder.")] = False,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="Show the newest N runs.")] = 20,
    as_json: Annotated[bool, typer.Option("--json")] = False,
    runs_dir: RunsDir = None,
) -> None:
    """Runs made so far: status, length, cost, output."""
    from ..runs.index import RunIndex

    s = settings(runs_dir=runs_dir)

    def go():
        with RunIndex() as index:
            if rebuild:
                n = index.rebuild([s.runs_dir])
                print(f"indexed {n} run folders under {s.runs_dir}", file=sys.stderr)
            return index.runs(limit)

    rows = guarded(go)
    if as_json:
        sys.stdout.write(json.dumps([r.model_dump(mode="json") for r in rows], indent=2) + "\n")
        return
    if not rows:
        out.print("no runs indexed yet (make one, or `reelwright runs --rebuild` to index existing run folders)")
        return
    table = Table()
    for col in ("run", "status", "length", "cost", "clips", "output"):
        table.add_column(col, overflow="fold", no_wrap=col in ("run", "status"))
    for r in rows:
        table.add_row(escape(r.id), r.status or "-", f"{r.duration_s:.3f} s" if r.duration_s is not None else "-",
                      f"${r.cost_usd:.2f}", str(r.clips), escape(r.output or "-"))
    out.print(table)


def cost(
    by: Annotated[str, typer.Option("--by", help="Group by any of day,backend,model (comma-separated).")] = "day,backend,model",
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Money spent, by day, backend and model (generation and chat-model calls)."""
    from ..runs.index import RunIndex

    dims = [d.strip() for d in by.split(",") if d.strip()]
    bad = [d for d in dims if d not in ("day", "backend", "model")]
    if bad:
        fail(BriefError(f"cannot group by {bad[0]!r}: use day, backend or model"))

    def go():
        with RunIndex() as index:
            return index.costs(dims)

    rows = guarded(go)
    if as_json:
        sys.stdout.write(json.dumps([r.model_dump(mode="json", exclude_none=True) for r in rows], indent=2) + "\n")
        return
    table = Table()
    for col in [*dims, "clips", "runs", "USD"]:
        table.add_column(col, justify="right" if col in ("clips", "runs", "USD") else "left")
    for r in rows:
        table.add_row(*[escape(str(getattr(r, d) or "-")) for d in dims], str(r.clips), str(r.runs), f"${r.usd:.2f}")
    out.print(table)
    out.print(f"total ${sum(r.usd for r in rows):.2f}")


def cache(
    prune: Annotated[bool, typer.Option("--prune", help="Remove clips (see --max-size, --older-than).")] = False,
    max_size: Annotated[Optional[str], typer.Option("--max-size", help="With --prune: keep the most recently used clips within this size, e.g. 2GB.")] = None,
    older_than: Annotated[Optional[str], typer.Option("--older-than", help="With --prune: remove clips unused for this long, e.g. 30d.")] = None,
    clear: Annotated[bool, typer.Option("--clear", help="Remove every cached clip.")] = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """The clip cache across runs: its size, and pruning."""
    from ..runs.cache import ClipCache

    def go():
        c = ClipCache()
        try:
            removed = None
            if clear or prune:
                if prune and not clear and max_size is None and older_than is None:
                    raise BriefError("--prune needs --max-size SIZE and/or --older-than AGE (or use --clear)")
                removed = c.prune(max_bytes=0 if clear else (parse_size(max_size) if max_size else None),
                                  older_than_s=None if clear or older_than is None else parse_age(older_than))
            return c.stats(), removed
        finally:
            c.close()

    stats, removed = guarded(go)
    if as_json:
        data = stats.model_dump(mode="json")
        if removed is not None:
            data["removed"], data["freed_bytes"] = removed
        sys.stdout.write(json.dumps(data, indent=2) + "\n")
        return
    if removed is not None:
        out.print(f"removed {removed[0]} clips, freed {human(removed[1])}")
    out.print(f"{stats.clips} clips, {human(stats.bytes)} in {escape(stats.folder)}; "
              f"reuse has saved ${stats.saved_usd:.2f}")


def register(app: typer.Typer) -> None:
    app.command()(runs)
    app.command()(cost)
    app.command()(cache)


__all__ = ["cache", "cost", "human", "parse_age", "parse_size", "register", "runs"]
