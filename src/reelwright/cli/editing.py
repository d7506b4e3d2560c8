"""`reelwright edit`, `extend` and `export`: working on finished runs and existing videos."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from ..errors import UserError
from .shared import (Generator, Llm, LlmBase, Output, RunsDir, SignCert, SignKey, Verbose, delivered, fail, guarded, out,
                     settings, with_progress)


def edit(
    target: Annotated[str, typer.Argument(help="A run id/folder, or a video file.")],
    request: Annotated[str, typer.Argument(help="What to change, e.g. \"add 'SALE 50%' at 0:05 for 3 seconds\".")],
    output: Output = None,
    llm: Llm = None,
    llm_base_url: LlmBase = None,
    sign_cert: SignCert = None,
    sign_key: SignKey = None,
    runs_dir: RunsDir = None,
    verbose: Verbose = False,
) -> None:
    """Edit by request: deterministic tools where they suffice, regeneration only of the shots that must change."""
    from ..api import check_output_path
    from ..editing.apply import edit_run
    from ..llm.registry import get_llm

    if not request.strip():
        fail(UserError("the edit request is empty: say what to change"))
    s = settings(llm=llm, llm_base_url=llm_base_url, runs_dir=runs_dir, sign_cert=sign_cert, sign_key=sign_key)

    def go(bus):
        if output is not None:
            check_output_path(output)
        return edit_run(target, request, runs_dir=s.runs_dir, output=output, bus=bus,
                        llm=get_llm(s.llm, base_url=s.llm_base_url), sign_cert=s.sign_cert, sign_key=s.sign_key)

    result = with_progress(verbose, go)
    out.print(f"[green]✓[/] {result.output}  ({float(result.duration):.3f} s)  tools: {', '.join(result.tools) or '-'}"
              f"  regenerated: {', '.join(result.regenerated) or 'none'}")


def extend(
    source: Annotated[Path, typer.Argument(help="The video to continue.")],
    to: Annotated[str, typer.Option("--to", help="Target length: 60, 1:00, '1 minute'.")],
    request: Annotated[str, typer.Option("--request", "-r", help="What should happen next (optional).")] = "",
    output: Output = None,
    generator: Generator = None,
    llm: Llm = None,
    llm_base_url: LlmBase = None,
    sign_cert: SignCert = None,
    sign_key: SignKey = None,
    runs_dir: RunsDir = None,
    verbose: Verbose = False,
) -> None:
    """Extend a video to an exact length, continuing from its last frame."""
    from ..api import check_output_path, parse_duration_value
    from ..editing.extend import extend_video
    from ..llm.registry import get_llm
    from ..media import probe

    from ..provenance.c2pa_io import signing_identity

    s = settings(generator=generator, llm=llm, llm_base_url=llm_base_url, runs_dir=runs_dir, sign_cert=sign_cert,
                 sign_key=sign_key)
    target = output or source.with_name(f"{source.stem}-extended.mp4")

    def go(bus):
        signer = signing_identity(s.sign_cert, s.sign_key)  # a bad certificate or key: one line, before any work
        probe(source)  # a clear error for a missing or non-video input
        check_output_path(target)
        return extend_video(source, parse_duration_value(to), request=request, generator=s.generator, output=target,
                            runs_dir=s.runs_dir, bus=bus, llm=get_llm(s.llm, base_url=s.llm_base_url), signer=signer)

    delivered(with_progress(verbose, go))


def export(
    run: Annotated[str, typer.Argument(help="Run id or folder.")],
    otio: Annotated[Optional[Path], typer.Option("--otio", help="Write an OpenTimelineIO timeline here (.otio).")] = None,
    runs_dir: RunsDir = None,
) -> None:
    """Hand the cut to an editor (Resolve, Premiere, Final Cut via OTIO adapters)."""
    from ..editing.otio_export import export_otio
    from ..runs.store import RunDir

    s = settings(runs_dir=runs_dir)

    def go():
        r = RunDir.open(run, s.runs_dir)
        dst = otio or (r.root / "timeline.otio")
        if dst.suffix != ".otio":
            raise UserError(f"{dst} must end in .otio")
        return export_otio(r, dst)

    out.print(f"[green]✓[/] {guarded(go)}")


def register(app: typer.Typer) -> None:
    app.command()(edit)
    app.command()(extend)
    app.command()(export)
