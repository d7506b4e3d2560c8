"""The `reelwright` command line. User errors end with one line on stderr and exit code 2."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from . import __version__
from .errors import ReelwrightError, UserError
from .events import EventBus
from .progress import ConsoleRenderer

EXAMPLE = "generate a 1 min video of a dog going on a walk, sniffing around, getting a pup cup, meeting a friend"

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="reelwright: a video agent. Plans shots, prompts each model in its own style, generates, "
                       "checks, repairs and delivers video of exactly the asked length.")
# Pipes and CI get a wide console so tables are not folded into unreadable columns.
out = Console(highlight=False, width=None if sys.stdout.isatty() else 160)
# A pipe's stderr is not folded at 80 columns either: a run folder or resume command stays one line.
err = Console(stderr=True, highlight=False, soft_wrap=not sys.stderr.isatty())

Generator = Annotated[str, typer.Option("--generator", "-g", help="Video backend NAME[:MODEL] (see `reelwright generators`).")]
Duration = Annotated[Optional[str], typer.Option("--duration", "-d", help="Length: 60, 90s, 1:30, '2 minutes'. Overrides the request's words.")]
Aspect = Annotated[Optional[str], typer.Option("--aspect", help="16:9, 9:16, 1:1, 4:3, ... or vertical/square/widescreen.")]
Mode = Annotated[Optional[str], typer.Option("--mode", help="create-video, short-film, ugc-product, brand-identity.")]
Resolution = Annotated[Optional[str], typer.Option("--resolution", help="360p, 480p, 720p (default), 1080p.")]
Fps = Annotated[Optional[str], typer.Option("--fps", help="Frames per second, e.g. 24, 30, 30000/1001.")]
Refs = Annotated[Optional[list[str]], typer.Option("--ref", help="Reference image [NAME=]PATH; repeatable.")]
Llm = Annotated[str, typer.Option("--llm", help="builtin, openai:MODEL or anthropic:MODEL.")]
LlmBase = Annotated[Optional[str], typer.Option("--llm-base-url", help="Base URL of an OpenAI-compatible server.")]
RunsDir = Annotated[Optional[Path], typer.Option("--runs-dir", help="Where run folders go (default: $REELWRIGHT_HOME/runs or ./runs).")]


def _fail(exc: BaseException) -> None:
    message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    # escaped: messages quote user values and server text, which must not be read as rich markup
    err.print(f"[red]error:[/] {escape(message)}", markup=True, highlight=False, soft_wrap=True)
    raise typer.Exit(getattr(exc, "exit_code", 1))


def _run(fn):
    try:
        return fn()
    except UserError as exc:
        _fail(exc)
    except ReelwrightError as exc:
        err.print(f"[red]error:[/] {escape(str(exc))}", soft_wrap=True)
        raise typer.Exit(1)
    except KeyboardInterrupt:
        err.print("[yellow]interrupted[/]: accepted clips are kept; finish with `reelwright resume RUN`")
        raise typer.Exit(130)


def _bus(verbose: bool) -> tuple[EventBus, ConsoleRenderer]:
    renderer = ConsoleRenderer(err, verbose=verbose)
    return EventBus([renderer]), renderer


@app.command()
def make(
    request: Annotated[Optional[str], typer.Argument(help="What the video should show.")] = None,
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="The MP4 to write.")] = None,
    plan: Annotated[Optional[Path], typer.Option("--plan", help="Make from an edited plan.json instead of planning.")] = None,
    generator: Generator = "animatic",
    duration: Duration = None,
    aspect: Aspect = None,
    mode: Mode = None,
    resolution: Resolution = None,
    fps: Fps = None,
    ref: Refs = None,
    llm: Llm = "builtin",
    llm_base_url: LlmBase = None,
    fallback: Annotated[Optional[str], typer.Option("--fallback", help="'builtin': continue on the built-in planner if the model fails.")] = None,
    agent: Annotated[bool, typer.Option("--agent", help="Let the chat model drive the tools (builtin policy without --llm).")] = False,
    budget: Annotated[Optional[float], typer.Option("--budget", help="Stop before spending more than this many USD.")] = None,
    concurrency: Annotated[Optional[int], typer.Option("--concurrency", help="Clips made at once (at most the backend's own limit).")] = None,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    allow_long: Annotated[bool, typer.Option("--allow-long", help="Allow videos over an hour.")] = False,
    runs_dir: RunsDir = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Make a finished video from a request."""
    from .api import make_video
    from .config import setting
    from .runs.store import slugify

    if plan is None and (request is None or not request.strip()):
        _fail(UserError("the request is empty: say what the video should show"))
    bus, renderer = _bus(verbose)
    generator = setting("generator", generator if generator != "animatic" else None, "animatic")
    llm = setting("llm", llm if llm != "builtin" else None, "builtin")
    target = output or Path(f"{slugify(request or (plan.stem if plan else 'video'))}.mp4")

    def go():
        return make_video(request, output=target, plan=plan, runs_dir=runs_dir, bus=bus, agent=agent,
                          generator=generator, duration=duration, aspect=aspect, mode=mode, resolution=resolution,
                          fps=fps, references=ref or [], llm=llm, llm_base_url=setting("llm_base_url", llm_base_url),
                          fallback=fallback, budget_usd=budget, seed=seed, allow_long=allow_long,
                          concurrency=concurrency)

    try:
        delivery = _run(go)
    finally:
        renderer.close()
    _delivered(delivery)


def _delivered(delivery) -> None:
    """The last lines of a command that made a video: where it is, how long, and its run folder."""
    out.print(f"[green]✓[/] {delivery.output}  ({float(delivery.duration):.3f} s, {len(delivery.plan.shots)} shots)")
    out.print(f"  run folder: {delivery.run.root}")


@app.command("plan")
def plan_cmd(
    request: Annotated[str, typer.Argument(help="What the video should show.")],
    generator: Generator = "animatic",
    duration: Duration = None,
    aspect: Aspect = None,
    mode: Mode = None,
    resolution: Resolution = None,
    fps: Fps = None,
    ref: Refs = None,
    llm: Llm = "builtin",
    llm_base_url: LlmBase = None,
    fallback: Annotated[Optional[str], typer.Option("--fallback")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the Plan as JSON (editable; feed back with make --plan).")] = False,
) -> None:
    """Plan only: every shot with its start, duration, beat and prompt; total duration; estimated cost."""
    from .api import plan_video
    from .timing import timecode

    p = _run(lambda: plan_video(request, generator=generator, duration=duration, aspect=aspect, mode=mode,
                                resolution=resolution, fps=fps, references=ref or [], llm=llm,
                                llm_base_url=llm_base_url, fallback=fallback))
    if as_json:
        sys.stdout.write(p.to_json() + "\n")
        return
    out.print(f"[bold]{p.title or 'Plan'}[/]  mode {p.mode}, {p.width}x{p.height} @ {float(p.fps):g} fps, generator {p.generator}")
    table = Table(show_lines=False)
    for col in ("#", "start", "dur", "beat", "prompt"):
        table.add_column(col, overflow="fold")
    for i, s in enumerate(p.shots, 1):
        table.add_row(str(i), timecode(p.shot_start(s)), f"{float(p.shot_duration(s)):.3f}s", s.beat, s.prompt)
    out.print(table)
    for o in p.overlays:
        out.print(f"overlay {o.text!r} at {timecode(o.start)} for {float(o.duration):g} s")
    out.print(f"total {float(p.duration):.3f} s ({p.total_frames} frames), {len(p.shots)} shots, "
              f"estimated cost ${p.estimated_cost_usd:.2f}")


@app.command()
def resume(
    run: Annotated[str, typer.Argument(help="Run id or path.")],
    output: Annotated[Optional[Path], typer.Option("--output", "-o")] = None,
    runs_dir: RunsDir = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Finish an interrupted run, reusing every accepted clip."""
    from .api import resume_run

    bus, renderer = _bus(verbose)
    try:
        delivery = _run(lambda: resume_run(run, runs_dir=runs_dir, output=output, bus=bus))
    finally:
        renderer.close()
    _delivered(delivery)


@app.command()
def inspect(
    file: Annotated[Path, typer.Argument(help="A video file.")],
    target: Annotated[Optional[float], typer.Option("--target", help="Expected duration in seconds.")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Probe facts and check results for a video file."""
    from fractions import Fraction

    from .critique.technical import check_final
    from .media import probe
    from .timing import seconds_to_frames

    def go():
        info = probe(file)
        frames = seconds_to_frames(Fraction(repr(target)), info.fps) if target else info.frames
        return info, check_final(file, frames, info.fps)

    info, verdict = _run(go)
    if as_json:
        sys.stdout.write(json.dumps({"probe": info.model_dump(mode="json"), "checks": verdict.model_dump(mode="json")}, indent=2) + "\n")
        return
    table = Table(title=str(file), show_header=False)
    for key, value in info.model_dump(mode="json").items():
        table.add_row(key, str(value))
    out.print(table)
    for c in verdict.checks:
        out.print(f"{'[green]✓[/]' if c.passed else '[red]✗[/]'} {c.name}: {c.detail}")
    if not verdict.passed:
        raise typer.Exit(1)


@app.command()
def generators() -> None:
    """List video backends and what they can do."""
    from .generators.registry import available, load_class

    table = Table()
    for col in ("name", "model", "durations (s)", "aspects", "refs", "modes", "audio", "$/s", "key"):
        table.add_column(col, overflow="fold", no_wrap=col == "name")
    for name in available():
        try:
            cls = load_class(name)
            gen = cls()
            caps = gen.capabilities()
        except ReelwrightError as exc:
            table.add_row(name, "-", f"unavailable: {str(exc).splitlines()[0]}", "", "", "", "", "", "")
            continue
        durs = caps.allowed_durations()
        dtext = (f"{float(durs[0]):g}–{float(durs[-1]):g}" if len(durs) > 6 else ", ".join(f"{float(d):g}" for d in durs))
        modes = [m for m, ok in (("text", caps.text_to_video), ("image", caps.image_to_video), ("extend", caps.extend),
                                 ("refs", caps.reference_images), ("last", caps.last_frame), ("edit", caps.edit)) if ok]
        table.add_row(name, caps.model or "-", dtext, ",".join(caps.aspects), str(caps.max_references), " ".join(modes),
                      "yes" if caps.audio else "no", f"{caps.price_per_second:g}", getattr(cls, "key_env", None) or "-")
    out.print(table)


@app.callback(invoke_without_command=True)
def _root(version: Annotated[bool, typer.Option("--version", help="Print the version.")] = False) -> None:
    if version:
        out.print(__version__)
        raise typer.Exit()


def _register_extra_commands() -> None:
    try:
        from . import cli_edit
    except ImportError:
        return
    cli_edit.register(app)


def main() -> None:
    _register_extra_commands()
    app()


if __name__ == "__main__":
    main()
