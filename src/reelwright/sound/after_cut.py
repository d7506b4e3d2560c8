"""The sound step as the Director runs it: an after-cut step `(production, cut) -> sounded cut`, and the
plan-time and delivery-time halves around it (`plan_with_sound`, `deliver_with_sound`).

The options of a run are saved in its folder (`sound/options.json`), so `resume` mixes the same way."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from .inspect import deliver_captions
from .options import SoundOptions
from .step import finish, prepare

OPTIONS_FILE = "sound/options.json"


def save_options(run_root: Path, options: SoundOptions) -> None:
    path = Path(run_root) / OPTIONS_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(options.model_dump_json(indent=1), encoding="utf-8")


def load_options(run_root: Path) -> SoundOptions:
    """The options a run was made with; the defaults for a run made before sound existed."""
    path = Path(run_root) / OPTIONS_FILE
    if not path.is_file():
        return SoundOptions()
    return SoundOptions.model_validate_json(path.read_text(encoding="utf-8"))


def sound_step(options: SoundOptions):
    """The after-cut step: mix the sound under the cut; the report gains its `audio` section."""

    def step(production: Any, cut: Path) -> Path:
        t0 = time.perf_counter()
        bus = production.bus
        bus.emit("sound", "start", "narration, effects, music and loudness")
        out = production.run.root / "sounded.mp4"
        report = finish(cut, production.plan, options, production.run.root / "sound", out,
                        progress=lambda f: bus.emit("sound", "progress", progress=f))
        production.report.add_section("audio", report.model_dump(mode="json"))
        production.report.step("sound", t0)
        cues = f", {len(report.cues)} effect(s) placed" if report.cues else ""
        bus.emit("sound", "done", f"{report.integrated_lufs:g} LUFS, true peak {report.true_peak_dbtp:g} dBTP, "
                 f"{report.captions} captions{cues}", elapsed_s=time.perf_counter() - t0)
        return out

    step.__name__ = "sound"
    return step


def plan_with_sound(director: Any, options: SoundOptions, plan: Any = None) -> Any:
    """Plan (unless `plan` is given), then the sound's half of planning: narration, cues, checks — and with
    `--timing narration`, the retiming — before any clip is made. The plan is saved in the run."""
    plan = plan if plan is not None else director.make_plan()
    run_root = director.run.root
    save_options(run_root, options)
    plan = prepare(plan, options, capabilities=director.caps, cache=run_root / "sound" / "voice", llm=director.llm)
    director.set_plan(plan)
    return plan


def deliver_with_sound(delivery: Any) -> Any:
    """Captions beside the delivered file (and beside the run's final.mp4); the report's `audio` section
    names the delivered files."""
    report = delivery.run.load_report()
    audio = report.get("audio") or {}
    files = [Path(f) for f in audio.get("caption_files", []) if Path(f).is_file()]
    if not files:
        return delivery
    placed = deliver_captions(files, delivery.run.final_path)
    if Path(delivery.output).resolve() != Path(delivery.run.final_path).resolve():
        placed = deliver_captions(files, Path(delivery.output))
    audio["caption_files"] = [str(p) for p in placed]
    report["audio"] = audio
    delivery.run.save_report(report)
    if isinstance(getattr(delivery, "report", None), dict):
        delivery.report["audio"] = audio
    return delivery


__all__ = ["deliver_with_sound", "load_options", "plan_with_sound", "save_options", "sound_step"]
