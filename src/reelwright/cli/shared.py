"""What every command group shares: the consoles, the error edge (one line, exit code 2 for a user error),
the common options, settings resolution and the progress/delivery printout. Imports nothing from the app."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, NoReturn, Optional, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from ..config import Settings, resolve_settings
from ..errors import ReelwrightError, UserError
from ..events import EventBus
from ..progress import ConsoleRenderer

T = TypeVar("T")

# Pipes and CI get a wide console so tables are not folded into unreadable columns.
out = Console(highlight=False, width=None if sys.stdout.isatty() else 160)
# A pipe's stderr is not folded at 80 columns either: a run folder or resume command stays one line.
err = Console(stderr=True, highlight=False, soft_wrap=not sys.stderr.isatty())

# Settings options default to None: "not given", so REELWRIGHT_* and the config file can fill them in.
Generator = Annotated[Optional[str], typer.Option("--generator", "-g", help="Video backend NAME[:MODEL] (see `reelwright generators`); default animatic, or REELWRIGHT_GENERATOR.")]
Llm = Annotated[Optional[str], typer.Option("--llm", help="builtin (default), openai:MODEL or anthropic:MODEL; or REELWRIGHT_LLM.")]
LlmBase = Annotated[Optional[str], typer.Option("--llm-base-url", help="Base URL of an OpenAI-compatible server.")]
GenBase = Annotated[Optional[str], typer.Option("--gen-base-url", help="Base URL of the video server (openai-videos: a /v1/videos server; openrouter).")]
Executor = Annotated[Optional[str], typer.Option("--executor", help="local (default) or ray: clips made on a Ray cluster (RAY_ADDRESS, or one started here).")]
Workers = Annotated[Optional[int], typer.Option("--workers", min=1, help="Ray workers for the backend (with --executor ray; default its own limit, or one per GPU for local models).")]
Fallback = Annotated[Optional[str], typer.Option("--fallback", help="When the chat model cannot plan: builtin (default: the built-in planner takes over, with a warning) or none (stop).")]
NoFallback = Annotated[bool, typer.Option("--no-fallback", help="Stop with an error when the chat model cannot plan (same as --fallback none).")]
RunsDir = Annotated[Optional[Path], typer.Option("--runs-dir", help="Where run folders go (default: $REELWRIGHT_HOME/runs or ./runs).")]
Output = Annotated[Optional[Path], typer.Option("--output", "-o", help="The MP4 to write.")]
Verbose = Annotated[bool, typer.Option("--verbose", "-v", help="Show every event, not only the steps.")]
Duration = Annotated[Optional[str], typer.Option("--duration", "-d", help="Length: 60, 90s, 1:30, '2 minutes'. Overrides the request's words.")]
Aspect = Annotated[Optional[str], typer.Option("--aspect", help="16:9, 9:16, 1:1, 4:3, ... or vertical/square/widescreen.")]
Mode = Annotated[Optional[str], typer.Option("--mode", help="create-video, short-film, ugc-product, brand-identity.")]
Resolution = Annotated[Optional[str], typer.Option("--resolution", help="360p, 480p, 720p (default), 1080p.")]
Fps = Annotated[Optional[str], typer.Option("--fps", help="Frames per second, e.g. 24, 30, 30000/1001.")]
SignCert = Annotated[Optional[Path], typer.Option("--sign-cert", help="PEM certificate chain that signs the C2PA manifest; or REELWRIGHT_SIGN_CERT.")]
SignKey = Annotated[Optional[Path], typer.Option("--sign-key", help="PEM private key of --sign-cert; or REELWRIGHT_SIGN_KEY.")]
Refs = Annotated[Optional[list[str]], typer.Option("--ref", help="Reference image [NAME=]PATH; repeatable.")]
Voice = Annotated[Optional[str], typer.Option("--voice", help="Voice-over: auto, none, \"TEXT\" or FILE.txt (default: the request's words, else auto for ugc-product/brand-identity, none otherwise).")]
Tts = Annotated[Optional[str], typer.Option("--tts", help="Voice backend: espeak[:VOICE] (default, offline), openai:MODEL[:VOICE], elevenlabs:VOICE_ID; or REELWRIGHT_TTS.")]
Timing = Annotated[Optional[str], typer.Option("--timing", help="shots (default) or narration: cut on the narration's sentences.")]
Music = Annotated[Optional[str], typer.Option("--music", help="A music file, looped or trimmed to length and ducked under the voice; or none.")]
Sfx = Annotated[Optional[Path], typer.Option("--sfx", help="A folder of effect files named by effect (door-slam.wav…); built-ins otherwise.")]
Subtitles = Annotated[Optional[str], typer.Option("--subtitles", help="file (SRT+VTT beside the video, default), burn, none; or REELWRIGHT_SUBTITLES.")]
Loudness = Annotated[Optional[str], typer.Option("--loudness", help="social (−14 LUFS, default), broadcast (−23), atsc (−24) or a LUFS number; or REELWRIGHT_LOUDNESS.")]


def fail(exc: BaseException) -> NoReturn:
    """End the command with the error's first line on stderr and its exit code (2 for a user error)."""
    message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    # escaped: messages quote user values and server text, which must not be read as rich markup
    err.print(f"[red]error:[/] {escape(message)}", markup=True, highlight=False, soft_wrap=True)
    raise typer.Exit(getattr(exc, "exit_code", 1))


def guarded(fn: Callable[[], T]) -> T:
    """Run the command's work; reelwright's errors end it cleanly, an interrupt says how to resume."""
    try:
        return fn()
    except UserError as exc:
        fail(exc)
    except ReelwrightError as exc:
        err.print(f"[red]error:[/] {escape(str(exc))}", soft_wrap=True)
        raise typer.Exit(1)
    except KeyboardInterrupt:
        err.print("[yellow]interrupted[/]: accepted clips are kept; finish with `reelwright resume RUN`")
        raise typer.Exit(130)


def settings(**flags: Any) -> Settings:
    """The command's settings: its flags (None = not given) over REELWRIGHT_* over the config file."""
    return guarded(lambda: resolve_settings(flags))


def sound_options(s: Settings, **flags: Any) -> Any:
    """The make's sound options: its flags (voice, timing, music, sfx) with the resolved settings
    (tts, loudness, subtitles); a bad value is one line, exit 2, before any work."""
    from ..sound import SoundOptions
    from ..sound.step import check_options

    def build():
        options = SoundOptions.parse(tts=s.tts, loudness=s.loudness, subtitles=s.subtitles, **flags)
        check_options(options)  # before planning prints anything
        return options

    return guarded(build)


def with_progress(verbose: bool, work: Callable[[EventBus], T]) -> T:
    """Run `work` with an event bus rendered as progress on stderr; the display is closed on any exit."""
    from ..runs.crash import crash_hook

    renderer = ConsoleRenderer(err, verbose=verbose)
    hook = crash_hook()  # REELWRIGHT_CRASH_AT: kill -9 tests only
    try:
        return guarded(lambda: work(EventBus([renderer] + ([hook] if hook else []))))
    finally:
        renderer.close()


def delivered(delivery: Any) -> None:
    """The last lines of a command that made a video: where it is, how long, and its run folder."""
    out.print(f"[green]✓[/] {delivery.output}  ({float(delivery.duration):.3f} s, {len(delivery.plan.shots)} shots)")
    out.print(f"  run folder: {delivery.run.root}")
