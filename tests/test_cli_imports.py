"""The CLI package has no import circle: group modules import `cli.shared` and the library, never the app
module (`reelwright.cli`), and nothing they import leads back to them. Checked on grimp's import graph."""

from __future__ import annotations

import grimp


def cycles(graph: grimp.ImportGraph, modules: set[str]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan), over the whole package's graph."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(m: str) -> None:
        index[m] = low[m] = len(index)
        stack.append(m)
        on_stack.add(m)
        for n in graph.find_modules_directly_imported_by(m):
            if n not in modules:
                continue
            if n not in index:
                visit(n)
                low[m] = min(low[m], low[n])
            elif n in on_stack:
                low[m] = min(low[m], index[n])
        if low[m] == index[m]:
            group = []
            while True:
                n = stack.pop()
                on_stack.discard(n)
                group.append(n)
                if n == m:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for m in sorted(modules):
        if m not in index:
            visit(m)
    return found


def test_no_cli_module_is_in_an_import_circle():
    graph = grimp.build_graph("reelwright")
    cli = {m for m in graph.modules if m == "reelwright.cli" or m.startswith("reelwright.cli.")}
    assert {"reelwright.cli.shared", "reelwright.cli.making", "reelwright.cli.editing", "reelwright.cli.info"} <= cli
    circles = [c for c in cycles(graph, set(graph.modules)) if cli & set(c)]
    assert circles == []


def test_group_modules_never_import_the_app_module():
    graph = grimp.build_graph("reelwright")
    groups = {m for m in graph.modules if m.startswith("reelwright.cli.")} - {"reelwright.cli.__main__"}
    for m in groups:
        assert "reelwright.cli" not in graph.find_modules_directly_imported_by(m), m
