"""Verification and delivery: the cut must have the exact frame count, decode cleanly and start fast;
only then is it moved to run/final.mp4 and copied (atomically) to the person's output path."""

from __future__ import annotations

import time
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

from ..errors import InputFileError, ReelwrightError
from ..media.util import copy_atomic
from ..plan import Plan
from ..runs.store import RunDir
from .production import Production


@dataclass
class Delivery:
    output: Path
    run: RunDir
    plan: Plan
    duration: Fraction
    report: dict[str, Any]


def verify_and_deliver(p: Production, cut_path: Path, output: Path | None) -> Delivery:
    from ..critique.technical import check_final

    plan = p.need_plan()
    t0 = time.perf_counter()
    p.bus.emit("verify", "start", "verifying the final cut")
    verdict = check_final(cut_path, plan.target_frames, plan.fps)
    p.report.step("verify", t0)
    if not verdict.passed:
        p.bus.emit("verify", "failed", "; ".join(verdict.reasons))
        p.report.write(p, final_checks=verdict.model_dump(), status="failed")
        raise ReelwrightError(f"the final cut failed verification: {'; '.join(verdict.reasons)}")
    p.bus.emit("verify", "done", f"{float(plan.duration):.3f} s, decodes cleanly")
    from ..provenance.steps import seal

    seal(p, cut_path)  # the C2PA manifest covers exactly the verified frames
    cut_path.replace(p.run.final_path)
    delivered = deliver_copy(p.run.final_path, output) if output is not None else p.run.final_path
    p.state.output = str(delivered)
    p.save_state("done")
    report = p.report.write(p, final_checks=verdict.model_dump(), status="done", output=str(delivered))
    p.bus.emit("deliver", "done", str(delivered), data={"duration_s": float(plan.duration)})
    return Delivery(delivered, p.run, plan, plan.duration, report)


def deliver_copy(src: Path, output: Path) -> Path:
    """Copy the final file to the user's output path through a temp name, then rename."""
    output = Path(output)
    if output.exists() and output.is_dir():
        raise InputFileError(f"output {output} is a folder; give a file name such as {output / 'video.mp4'}")
    try:
        copy_atomic(src, output)  # a temp name unique to this writer: concurrent deliveries never mix
    except OSError as exc:
        raise InputFileError(f"cannot write output {output}: {exc.strerror or exc}") from exc
    return output
