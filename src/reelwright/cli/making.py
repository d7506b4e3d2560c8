"""`reelwright make`, `plan` and `resume`: from a request (or an edited plan) to a finished video."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.table import Table

from ..errors import UserError
from .shared import (Aspect, Duration, Executor, Fallback, Fps, GenBase, Generator, Llm, LlmBase, Loudness, Mode,
                     Music, NoFallback, Output, Refs, Resolution, RunsDir, Sfx, SignCert, SignKey, Subtitles, Timing,
                     Tts, Verbose, Voice,
                     Workers, delivered, fail, guarded, out, settings, sound_options, with_progress)


def generator_options(s: Any) -> dict[str, Any]:
    """Options for the backend that come from settings: only what was given (other backends refuse them)."""
    return {"base_url": s.gen_base_url} if s.gen_base_url else {}


def make(
    request: Annotated[Optional[str], typer.Argument(help="What the video should show.")] = None,
    output: Output = None,
    plan: Annotated[Optional[Path], typer.Option("--plan", help="Make from an edited plan.json instead of planning.")] = None,
    generator: Generator = None,
    gen_base_url: GenBase = None,
    duration: Duration = None,
    aspect: Aspect = None,
    mode: Mode = None,
    resolution: Resolution = None,
    fps: Fps = None,
    ref: Refs = None,
    llm: Llm = None,
    llm_base_url: LlmBase = None,
    fallback: Fallback = None,
    no_fallback: NoFallback = False,
    executor: Executor = None,
    workers: Workers = None,
    agent: Annotated[bool, typer.Option("--agent", help="Let the chat model drive the tools (builtin policy without --llm).")] = False,
    budget: Annotated[Optional[float], typer.Option("--budget", help="Stop before spending more than this many USD.")] = None,
    concurrency: Annotated[Optional[int], typer.Option("--concurrency", help="Clips made at once (at most the backend's own limit).")] = None,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    allow_long: Annotated[bool, typer.Option("--allow-long", help="Allow videos over an hour.")] = False,
    voice: Voice = None,
    tts: Tts = None,
    timing: Timing = None,
    music: Music = None,
    sfx: Sfx = None,
    subtitles: Subtitles = None,
    loudness: Loudness = None,
    watermark: Annotated[Optional[str], typer.Option("--watermark", help="Stamp TEXT, or an IMAGE file, on the video.")] = None,
    watermark_position: Annotated[str, typer.Option("--watermark-position", help="top-left, top-right, bottom-left, bottom-right or center.")] = "bottom-right",
    watermark_opacity: Annotated[float, typer.Option("--watermark-opacity", help="0 (invisible) .. 1 (solid).")] = 0.6,
    sign_cert: SignCert = None,
    sign_key: SignKey = None,
    runs_dir: RunsDir = None,
    verbose: Verbose = False,
) -> None:
    """Make a finished video from a request."""
    from ..api import make_video
    from ..runs.store import slugify

    if plan is None and (request is None or not request.strip()):
        fail(UserError("the request is empty: say what the video should show"))
    s = settings(generator=generator, llm=llm, llm_base_url=llm_base_url, fallback=fallback, budget=budget,
                 concurrency=concurrency, runs_dir=runs_dir, executor=executor, gen_base_url=gen_base_url, tts=tts,
                 loudness=loudness, subtitles=subtitles, sign_cert=sign_cert, sign_key=sign_key)
    sound = sound_options(s, voice=voice, timing=timing, music=music, sfx=sfx)
    mark = None
    if watermark is not None:
        from ..media.watermark import parse_watermark

        mark = guarded(lambda: parse_watermark(watermark, position=watermark_position, opacity=watermark_opacity))
    target = output or Path(f"{slugify(request or (plan.stem if plan else 'video'))}.mp4")
    delivery = with_progress(verbose, lambda bus: make_video(
        request, output=target, plan=plan, runs_dir=s.runs_dir, bus=bus, agent=agent, generator=s.generator,
        duration=duration, aspect=aspect, mode=mode, resolution=resolution, fps=fps, references=ref or [],
        llm=s.llm, llm_base_url=s.llm_base_url, fallback="none" if no_fallback else s.fallback, budget_usd=s.budget,
        seed=seed, allow_long=allow_long, concurrency=s.concurrency, executor=s.executor, ray_workers=workers,
        generator_options=generator_options(s), sound=sound, watermark=mark,
        sign_cert=s.sign_cert, sign_key=s.sign_key))
    delivered(delivery)


def plan(
    request: Annotated[str, typer.Argument(help="What the video should show.")],
    generator: Generator = None,
    gen_base_url: GenBase = None,
    duration: Duration = None,
    aspect: Aspect = None,
    mode: Mode = None,
    resolution: Resolution = None,
    fps: Fps = None,
    ref: Refs = None,
    llm: Llm = None,
    llm_base_url: LlmBase = None,
    fallback: Fallback = None,
    no_fallback: NoFallback = False,
    voice: Voice = None,
    tts: Tts = None,
    timing: Timing = None,
    music: Music = None,
    sfx: Sfx = None,
    subtitles: Subtitles = None,
    loudness: Loudness = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the Plan as JSON (editable; feed back with make --plan).")] = False,
) -> None:
    """Plan only: every shot with its start, duration, beat and prompt; total duration; estimated cost."""
    from ..api import plan_video
    from ..timing import timecode

    s = settings(generator=generator, llm=llm, llm_base_url=llm_base_url, fallback=fallback, gen_base_url=gen_base_url,
                 tts=tts, loudness=loudness, subtitles=subtitles)
    sound = sound_options(s, voice=voice, timing=timing, music=music, sfx=sfx)
    p = guarded(lambda: plan_video(request, generator=s.generator, duration=duration, aspect=aspect, mode=mode,
                                   resolution=resolution, fps=fps, references=ref or [], llm=s.llm,
                                   llm_base_url=s.llm_base_url, fallback="none" if no_fallback else s.fallback,
                                   generator_options=generator_options(s), sound=sound))
    if as_json:
        sys.stdout.write(p.to_json() + "\n")
        return
    out.print(f"[bold]{p.title or 'Plan'}[/]  mode {p.mode}, {p.width}x{p.height} @ {float(p.fps):g} fps, generator {p.generator}")
    table = Table(show_lines=False)
    for col in ("#", "start", "dur", "beat", "prompt"):
        table.add_column(col, overflow="fold")
    for i, shot in enumerate(p.shots, 1):
        table.add_row(str(i), timecode(p.shot_start(shot)), f"{float(p.shot_duration(shot)):.3f}s", shot.beat, shot.prompt)
    out.print(table)
    for o in p.overlays:
        out.print(f"overlay {o.text!r} at {timecode(o.start)} for {float(o.duration):g} s")
    for c in p.audio:
        if c.kind == "voiceover":
            out.print(f"voice {c.shot} at {timecode(c.start)}: {c.text}")
        elif c.kind in ("sfx", "music"):
            out.print(f"{c.kind} {c.effect or (c.path.name if c.path else '')} at {timecode(c.start)}")
    out.print(f"total {float(p.duration):.3f} s ({p.total_frames} frames), {len(p.shots)} shots, "
              f"estimated cost ${p.estimated_cost_usd:.2f}")


def resume(
    run: Annotated[str, typer.Argument(help="Run id or path.")],
    output: Output = None,
    sign_cert: SignCert = None,
    sign_key: SignKey = None,
    runs_dir: RunsDir = None,
    gen_base_url: GenBase = None,
    executor: Executor = None,
    workers: Workers = None,
    verbose: Verbose = False,
) -> None:
    """Finish an interrupted run, reusing every accepted clip."""
    from ..api import resume_run

    s = settings(runs_dir=runs_dir, executor=executor, gen_base_url=gen_base_url, sign_cert=sign_cert,
                 sign_key=sign_key)
    delivered(with_progress(verbose, lambda bus: resume_run(run, runs_dir=s.runs_dir, output=output, bus=bus,
                                                            executor=s.executor, ray_workers=workers,
                                                            generator_options=generator_options(s),
                                                            sign_cert=s.sign_cert, sign_key=s.sign_key)))


def register(app: typer.Typer) -> None:
    app.command()(make)
    app.command("plan")(plan)
    app.command()(resume)
