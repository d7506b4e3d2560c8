"""`reelwright edit`, `extend` and `export`: working on finished runs and existing videos."""


from pathlib import Path
from typing import Annotated, Optional

import typer


def register(app: typer.Typer) -> None:
    from .cli import Generator, Llm, LlmBase, RunsDir, _bus, _delivered, _fail, _run, out

    @app.command()
    def edit(
        target: Annotated[str, typer.Argument(help="A run id/folder, or a video file.")],
        request: Annotated[str, typer.Argument(help="What to change, e.g. \"add 'SALE 50%' at 0:05 for 3 seconds\".")],
        output: Annotated[Optional[Path], typer.Option("--output", "-o")] = None,
        llm: Llm = "builtin",
        llm_base_url: LlmBase = None,
        runs_dir: RunsDir = None,
        verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
    ) -> None:
        """Edit by request: deterministic tools where they suffice, regeneration only of the shots that must change."""
        from .api import check_output_path
        from .editing.apply import edit_run
        from .errors import UserError

        if not request.strip():
            _fail(UserError("the edit request is empty: say what to change"))
        bus, renderer = _bus(verbose)

        def go():
            from .llm.registry import get_llm

            if output is not None:
                check_output_path(output)
            return edit_run(target, request, runs_dir=runs_dir, output=output, bus=bus,
                            llm=get_llm(llm, base_url=llm_base_url))

        try:
            result = _run(go)
        finally:
            renderer.close()
        out.print(f"[green]✓[/] {result.output}  ({float(result.duration):.3f} s)  tools: {', '.join(result.tools) or '-'}"
                  f"  regenerated: {', '.join(result.regenerated) or 'none'}")

    @app.command()
    def extend(
        source: Annotated[Path, typer.Argument(help="The video to continue.")],
        to: Annotated[str, typer.Option("--to", help="Target length: 60, 1:00, '1 minute'.")],
        request: Annotated[str, typer.Option("--request", "-r", help="What should happen next (optional).")] = "",
        output: Annotated[Optional[Path], typer.Option("--output", "-o")] = None,
        generator: Generator = "animatic",
        llm: Llm = "builtin",
        llm_base_url: LlmBase = None,
        runs_dir: RunsDir = None,
        verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
    ) -> None:
        """Extend a video to an exact length, continuing from its last frame."""
        from .api import check_output_path, parse_duration_value
        from .editing.extend import extend_video

        bus, renderer = _bus(verbose)
        target = output or source.with_name(f"{source.stem}-extended.mp4")

        def go():
            from .media import probe

            from .llm.registry import get_llm

            probe(source)  # a clear error for a missing or non-video input
            check_output_path(target)
            return extend_video(source, parse_duration_value(to), request=request, generator=generator,
                                output=target, runs_dir=runs_dir, bus=bus, llm=get_llm(llm, base_url=llm_base_url))

        try:
            delivery = _run(go)
        finally:
            renderer.close()
        _delivered(delivery)

    @app.command()
    def export(
        run: Annotated[str, typer.Argument(help="Run id or folder.")],
        otio: Annotated[Optional[Path], typer.Option("--otio", help="Write an OpenTimelineIO timeline here (.otio).")] = None,
        runs_dir: RunsDir = None,
    ) -> None:
        """Hand the cut to an editor (Resolve, Premiere, Final Cut via OTIO adapters)."""
        from .config import default_runs_dir
        from .editing.otio_export import export_otio
        from .errors import UserError
        from .runs.store import RunDir

        def go():
            r = RunDir.open(run, runs_dir or default_runs_dir())
            dst = otio or (r.root / "timeline.otio")
            if dst.suffix != ".otio":
                raise UserError(f"{dst} must end in .otio")
            return export_otio(r, dst)

        path = _run(go)
        out.print(f"[green]✓[/] {path}")
