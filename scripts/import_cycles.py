"""Import circles among reelwright's modules, read from the source with `ast` (nothing is imported).

    python scripts/import_cycles.py [--top-level-only] [--only PREFIX ...]

Every `import`/`from ... import` counts (except under `if TYPE_CHECKING:`), including those inside functions (a lazy import still ties two
modules together); `--top-level-only` counts only module-level ones (what can fail at import time).
A package's `__init__` is its own node. Prints each circle (a strongly connected component of more than
one module) and exits 1 when there is one involving a module under an --only prefix (default: any)."""

from __future__ import annotations

import argparse
import ast
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path, modules: set[str], top_level_only: bool) -> set[str]:
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    typing_only = {id(n) for block in ast.walk(tree) if isinstance(block, ast.If)
                   and ast.unparse(block.test) in ("TYPE_CHECKING", "typing.TYPE_CHECKING")
                   for n in ast.walk(block)}  # annotations only: never imported at run time
    nodes = [n for n in (tree.body if top_level_only else ast.walk(tree)) if id(n) not in typing_only]
    found: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            # `from pkg import sub` imports the submodule when there is one
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
        else:
            continue
        for t in targets:
            while t and t not in modules:
                t = t.rpartition(".")[0]
            if t and t != name:
                found.add(t)
    return found


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components with more than one member."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    sys.setrecursionlimit(10_000)

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--top-level-only", action="store_true")
    ap.add_argument("--only", nargs="*", default=[], help="fail only for circles touching these module prefixes")
    args = ap.parse_args()
    files = sorted((SRC / "reelwright").rglob("*.py"))
    modules = {module_name(f) for f in files}
    graph = {module_name(f): imports_of(f, modules, args.top_level_only) for f in files}
    found = cycles(graph)
    bad = [c for c in found if not args.only or any(m.startswith(tuple(args.only)) for m in c)]
    for c in found:
        print(("CIRCLE " if c in bad else "circle (not checked) ") + " <-> ".join(c))
    print(f"{len(graph)} modules, {len(found)} circle(s), {len(bad)} checked")
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
