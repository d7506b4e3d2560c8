"""The Director's provenance steps: the visible watermark, stamped on the stitched cut, and the C2PA seal
on the verified cut before it is delivered; both are stated in report.json's `provenance` section."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..director.production import Production


def watermark_cut(p: Production, cut: Path) -> Path:
    """Stamp the plan's watermark on the cut (video re-encoded once, sound copied); the cut if none."""
    from ..media.watermark import apply_watermark

    plan = p.need_plan()
    if plan.watermark is None:
        return cut
    t0 = time.perf_counter()
    p.bus.emit("watermark", "start", "stamping the watermark")
    marked = cut.with_name("cut-marked.mp4")
    apply_watermark(cut, marked, plan.watermark,
                    progress=lambda f: p.bus.emit("watermark", "progress", progress=f))
    marked.replace(cut)
    p.report.step("watermark", t0)
    p.bus.emit("watermark", "done", plan.watermark.position, elapsed_s=time.perf_counter() - t0)
    return cut


def seal(p: Production, cut: Path, *, history: Sequence[dict[str, Any]] = ()) -> None:
    """Sign the verified cut in place with a C2PA manifest when a signing identity is configured; record
    what the manifest states (or why there is none) in the report. `history`: entries not yet in state.json
    (the edit or extension being finished) that the manifest must already state."""
    from .manifest import facts_from_run

    plan = p.need_plan()
    mark = plan.watermark.describe() if plan.watermark is not None else None
    facts = facts_from_run(p.run.root, title=p.run.final_path.name, model=p.generator.model, watermark=mark,
                           history=history)
    section = facts.model_dump(mode="json") | {"signed": False}
    if p.signer is None:
        section["note"] = "not signed: set sign_cert and sign_key (REELWRIGHT_SIGN_CERT/REELWRIGHT_SIGN_KEY)"
        p.report.add_section("provenance", section)
        return
    from .c2pa_io import sign_video

    t0 = time.perf_counter()
    p.bus.emit("sign", "start", "signing the C2PA manifest")
    signed = cut.with_name("cut-signed.mp4")
    sign_video(cut, signed, facts, p.signer)
    signed.replace(cut)
    p.report.step("sign", t0)
    section |= {"signed": True, "signer": p.signer.signer_name, "alg": p.signer.alg}
    p.report.add_section("provenance", section)
    p.bus.emit("sign", "done", f"C2PA manifest signed by {p.signer.signer_name}", elapsed_s=time.perf_counter() - t0)
