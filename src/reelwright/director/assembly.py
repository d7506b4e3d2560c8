"""Assembly — the stitch: each shot's part (its frames of the accepted clip, with speed, fades and
overlays applied only where asked), the seams between continuous shots checked, then a stream-copy
concat of the parts (crossfades where a transition has spare frames), cropped to the output aspect."""

from __future__ import annotations

import time
from pathlib import Path

from ..errors import AgentError
from ..plan import Shot
from ..runs.store import clip_fingerprint
from ..timing import frames_to_seconds
from .job import accepted_clip, job_for, overlap_wanted
from .production import Production


def cut(p: Production) -> Path:
    """Stitch every shot's accepted clip into run/cut.mp4 and record which clips the cut used."""
    from ..media import concat

    plan = p.need_plan()
    t0 = time.perf_counter()
    p.save_state("cutting")
    p.bus.emit("cut", "start", "stitching clips")
    parts: list[Path] = []
    joins: list[tuple[str, int]] = []
    used: dict[str, str] = {}
    for i, shot in enumerate(plan.shots):
        job = job_for(p, shot)
        clip = accepted_clip(p, job)
        if clip is None:  # a driver called the cut too early: it can generate the shot first
            raise AgentError(f"shot {shot.id} has no accepted clip yet; generate it first")
        used[shot.id] = job.fingerprint
        last = i + 1 == len(plan.shots)
        overlap = 0 if last else _overlap_available(p, i, clip)
        if not last:
            joins.append((shot.transition, overlap) if overlap else ("cut", 0))
        parts.append(shot_part(p, shot, clip, extra=overlap))
    _seam_checks(p)
    cut_path = p.run.root / "cut.mp4"
    concat(parts, cut_path, p.spec, transitions=joins if any(k for _, k in joins) else None,
           progress=lambda f: p.bus.emit("cut", "progress", progress=f))
    if plan.output_aspect:
        from ..media import crop_to_aspect

        cropped = p.run.root / "cut-cropped.mp4"
        crop_to_aspect(cut_path, cropped, p.output_spec)
        cropped.replace(cut_path)
    p.cut_used = used
    if not p.staged:  # an edit records its cut's clips when it commits (runs.transaction)
        p.state.cut_clips = used
    p.save_state()
    p.report.step("cut", t0)
    p.bus.emit("cut", "done", f"{len(parts)} clips stitched", elapsed_s=time.perf_counter() - t0)
    return cut_path


def _seam_checks(p: Production) -> None:
    """Compare the frames across every cut that should be continuous; a jump is flagged in the report
    (the clips themselves passed their checks, so it is a warning, not a stop)."""
    from ..context.seams import check_seams

    plan = p.need_plan()
    if not any(s.continues for s in plan.shots):
        return
    clips = {s.id: c for s in plan.shots if (c := accepted_clip(p, job_for(p, s))) is not None}
    checks = check_seams(plan, clips, as_cut=True)
    for c in checks:
        if not c.passed:
            p.bus.emit("check", "warning", f"{c.name}: {c.detail}")
    if checks:
        p.report.add_section("seams", [c.model_dump(mode="json") for c in checks])


def _overlap_available(p: Production, index: int, clip: Path) -> int:
    """The transition overlap this shot can give: what it wants, limited by its clip's spare frames."""
    from ..media import probe

    plan = p.need_plan()
    shot = plan.shots[index]
    if shot.transition == "cut" or shot.speed != 1:
        return 0
    spare = probe(clip).frames - shot.in_frame - shot.source_frames
    return max(0, min(overlap_wanted(plan, index), spare))


def shot_part(p: Production, shot: Shot, clip: Path, *, extra: int = 0) -> Path:
    """The shot's frames in the cut (plus `extra` frames a transition overlaps with the next shot),
    derived from its accepted clip deterministically and cached."""
    from ..media import change_speed, fade, overlay_text, probe, trim

    plan = p.need_plan()
    spec = p.spec
    start = plan.shot_start(shot)
    end = start + plan.shot_duration(shot) + frames_to_seconds(extra, plan.fps)
    touching = [o for o in plan.overlays if o.start < end and o.end > start]
    have = probe(clip).frames
    plain = shot.in_frame == 0 and shot.source_frames + extra == have and shot.speed == 1
    if plain and not (shot.fade_in or shot.fade_out or touching):
        return clip
    key = clip_fingerprint({"clip": clip.name, "in": shot.in_frame, "frames": shot.frames, "speed": str(shot.speed),
                            "fade": [shot.fade_in, shot.fade_out], "offset": str(start), "extra": extra,
                            "overlays": [o.model_dump(mode="json") for o in touching]})
    out = p.run.clips_dir / f"{shot.id}-part-{key}.mp4"
    if out.is_file():
        return out
    work = clip
    tmp = [p.run.clips_dir / f".{shot.id}-{key}-{n}.mp4" for n in range(4)]
    if not plain:
        take = min(shot.source_frames + extra, have - shot.in_frame)
        trim(work, tmp[0], start_frame=shot.in_frame, frames=take, spec=spec)
        work = tmp[0]
        if shot.speed != 1:
            change_speed(work, tmp[1], shot.speed, spec)  # 1/2 = half speed, twice as long
            trim(tmp[1], tmp[2], start_frame=0, frames=shot.frames, spec=spec)
            work = tmp[2]
    if shot.fade_in or shot.fade_out:
        fade(work, tmp[3], spec, fade_in_frames=shot.fade_in, fade_out_frames=shot.fade_out)
        work = tmp[3]
    if touching:
        p.bus.emit("overlay", "start", ", ".join(repr(o.text) for o in touching), shot=shot.id)
        overlay_text(work, out, touching, spec, offset=start)
    else:
        work.replace(out)
    for t in tmp:
        t.unlink(missing_ok=True)
    return out
