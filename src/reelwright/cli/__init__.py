"""The `reelwright` command line: the Typer app and `main`.

Commands live in one module per group over `shared.py` (consoles, error edge, common options, settings).
A group is a module with `register(app)`; to add one (e.g. `serve`/`mcp`, sound options), write the module
and list it in `GROUPS`. Group modules import `shared`, never this module, so there is no import circle.
User errors end with one line on stderr and exit code 2."""

from __future__ import annotations

from typing import Annotated

import typer

from .. import __version__
from ..server import commands as studio
from . import editing, info, making, store
from .shared import out

GROUPS = (making, editing, info, store, studio)

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="reelwright: a video agent. Plans shots, prompts each model in its own style, generates, "
                       "checks, repairs and delivers video of exactly the asked length.")


@app.callback(invoke_without_command=True)
def _root(version: Annotated[bool, typer.Option("--version", help="Print the version.")] = False) -> None:
    if version:
        out.print(__version__)
        raise typer.Exit()


for _group in GROUPS:
    _group.register(app)


def main() -> None:
    app()


__all__ = ["GROUPS", "app", "main"]
