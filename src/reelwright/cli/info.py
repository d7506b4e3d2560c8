"""`reelwright inspect` and `generators`: facts about a video file and about the backends."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from ..errors import BriefError, ReelwrightError
from .shared import guarded, out


def inspect(
    file: Annotated[Path, typer.Argument(help="A video file.")],
    target: Annotated[Optional[float], typer.Option("--target", help="Expected duration in seconds.")] = None,
    trust: Annotated[Optional[Path], typer.Option("--trust", help="PEM trust anchors to judge the C2PA signer against.")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Probe facts, check results and the C2PA manifest (read and verified) of a video file."""
    from fractions import Fraction

    from ..critique.technical import check_final
    from ..media import probe
    from ..timing import seconds_to_frames

    from ..sound.inspect import audio_facts

    def go():
        if target is not None and not (math.isfinite(target) and 0 < target <= 10**7):
            raise BriefError(f"--target must be a positive number of seconds, got {target}")
        info = probe(file)
        frames = seconds_to_frames(Fraction(repr(target)), info.fps) if target else info.frames
        return info, check_final(file, frames, info.fps), audio_facts(file)

    info, verdict, audio = guarded(go)
    prov = guarded(lambda: _provenance(file, trust))
    if as_json:
        sys.stdout.write(json.dumps({"probe": info.model_dump(mode="json"), "checks": verdict.model_dump(mode="json"),
                                     "audio": audio,
                                     "provenance": prov.model_dump(mode="json") if prov else None}, indent=2) + "\n")
        if prov is not None and prov.present and not prov.valid:
            raise typer.Exit(1)
        return
    table = Table(title=str(file), show_header=False)
    for key, value in info.model_dump(mode="json").items():
        table.add_row(key, str(value))
    out.print(table)
    if audio.get("has_audio"):
        out.print(f"sound: {audio['integrated_lufs']:g} LUFS integrated, true peak {audio['true_peak_dbtp']:g} dBTP, "
                  f"LRA {audio['lra_lu']:g} LU")
    if "captions" in audio:
        out.print(f"captions: {audio['captions']} cues beside the file, covering {audio['caption_coverage']:.0%} of it")
    for cue in audio.get("cues", []):
        out.print(f"cue {cue['effect']}: planned {cue['planned_s']:.3f} s, measured "
                  + (f"{cue['measured_s']:.3f} s ({cue['error_ms']:+.1f} ms)" if cue["measured_s"] is not None else "—"))
    for c in verdict.checks:
        out.print(f"{'[green]✓[/]' if c.passed else '[red]✗[/]'} {c.name}: {c.detail}")
    _print_provenance(prov)
    if not verdict.passed or (prov is not None and prov.present and not prov.valid):
        raise typer.Exit(1)


def _provenance(file: Path, trust: Path | None):
    """The file's C2PA manifest, verified; None when c2pa-python is not installed (said by the printout)."""
    from ..errors import MissingDependencyError

    try:
        from ..provenance import read_provenance

        return read_provenance(file, trust_anchors=trust)
    except MissingDependencyError:
        return None


def _print_provenance(prov) -> None:
    from rich.markup import escape

    if prov is None:
        out.print("- c2pa: not checked (pip install 'reelwright[c2pa]')")
        return
    if not prov.present:
        out.print("- c2pa: no manifest")
        return
    mark = "[green]✓[/]" if prov.valid else "[red]✗[/]"
    trust = "trusted" if prov.trusted else "signer not on a trust list (--trust PEM)"
    state = f"valid, {trust}" if prov.valid else "INVALID: " + "; ".join(prov.failures[:3])
    out.print(f"{mark} c2pa: {escape(state)}; signed by {escape(str(prov.signer))} ({escape(str(prov.issuer))}); "
              f"made with {escape(str(prov.claim_generator))}")
    for a in prov.actions:
        kind = f" [{a.source_type.rsplit('/', 1)[-1]}]" if a.source_type else ""
        out.print(f"    {escape(a.action)}{escape(kind)} {escape(a.description or '')}")


def generators() -> None:
    """List video backends and what they can do."""
    from ..generators.registry import available, load_class

    table = Table()
    for col in ("name", "model", "durations (s)", "aspects", "refs", "modes", "audio", "$/s", "key"):
        table.add_column(col, overflow="fold", no_wrap=col == "name")
    for name in available():
        try:
            cls = load_class(name)
            caps = cls().capabilities()
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


def register(app: typer.Typer) -> None:
    app.command()(inspect)
    app.command()(generators)
