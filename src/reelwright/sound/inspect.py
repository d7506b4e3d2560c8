"""The sound facts of any video file, for `reelwright inspect`: loudness (integrated, true peak, LRA)
measured on the file, and, when captions lie beside it (same name, .srt), how many and how much of the
video they cover. For a reelwright run's output the run's report adds each cue's planned time and its
measured onset (see `step.finish`)."""

from __future__ import annotations

import shutil
from pathlib import Path

from ..media.probe import probe
from .loudness import measure


def audio_facts(path: Path) -> dict:
    """{'has_audio', 'integrated_lufs', 'true_peak_dbtp', 'lra_lu', 'captions', 'caption_coverage'}."""
    info = probe(path)
    facts: dict = {"has_audio": info.has_audio}
    if info.has_audio:
        m = measure(path, duration=float(info.duration))
        facts.update(integrated_lufs=m.integrated, true_peak_dbtp=m.true_peak, lra_lu=m.lra)
    report = _run_report(Path(path))
    if report.get("audio"):
        facts.update(narration=report["audio"].get("narration", {}), cues=report["audio"].get("cues", []))
    srt = Path(path).with_suffix(".srt")
    if srt.is_file():
        import pysubs2

        subs = pysubs2.load(str(srt), encoding="utf-8")
        covered = sum(max(0, e.end - e.start) for e in subs) / 1000
        facts.update(captions=len(subs), caption_coverage=round(covered / max(1e-9, float(info.duration)), 3))
    return facts


def _run_report(path: Path) -> dict:
    """The report of the run that made `path`: its own run folder (final.mp4), else a run whose recorded
    output is this file (the delivered copy)."""
    import json

    candidates = [path.parent / "report.json"]
    try:
        from ..config import default_runs_dir

        runs = default_runs_dir()
        if runs.is_dir():
            candidates += sorted(runs.glob("*/report.json"), key=lambda p: p.stat().st_mtime, reverse=True)[:50]
    except OSError:
        pass
    target = str(path.resolve())
    for report_path in candidates:
        try:
            report = json.loads(report_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        output = report.get("output")
        if report_path.parent == path.parent and path.name == "final.mp4":
            return report
        if output and str(Path(output).resolve()) == target:
            return report
    return {}


def deliver_captions(files: list[str] | list[Path], output: Path) -> list[Path]:
    """Copy the run's caption files beside `output` under its name (tide.mp4 -> tide.srt, tide.vtt),
    each through a temporary name."""
    delivered = []
    for f in map(Path, files):
        dst = Path(output).with_suffix(f.suffix)
        tmp = dst.with_name(f".{dst.name}.part")
        shutil.copyfile(f, tmp)
        tmp.replace(dst)
        delivered.append(dst)
    return delivered
