"""What one take asks of the generator: the prompt with its references named, the length, the size,
the seed, and what it continues from (native extension, packed history frames, or the last frame)."""

from __future__ import annotations

from pathlib import Path

from ..generators.base import ClipRequest, HistoryFrame
from .job import ShotJob, accepted_clip, display, job_for
from .production import Production


def request_for(p: Production, job: ShotJob, *, attempt: int = 0, prompt: str | None = None) -> ClipRequest:
    plan = p.need_plan()
    shot = job.shot
    text = prompt or shot.prompt
    prev = previous_clip(p, job) if shot.continues else None
    # An extension continues the previous clip's pixels: no provider takes reference images with it.
    extending = shot.continues and p.caps.extend and prev is not None
    selection = None if extending else _selection(p, job)
    if selection is not None:
        from ..context.references import prompt_with_references

        text = prompt_with_references(text, selection, p.style)
    req = ClipRequest(
        shot_id=shot.id, prompt=text, negative_prompt=shot.negative_prompt,
        duration=job.gen_duration, width=plan.width, height=plan.height, aspect=plan.aspect,
        resolution=plan.brief.resolution, fps=plan.fps, seed=shot.seed + 1009 * attempt,
        model=p.generator.model, image=shot.image, references=list(selection.refs) if selection else [],
        audio=p.caps.audio, out_path=p.run.clips_dir / f"{shot.id}.raw{attempt}.mp4", display=display(p, job),
    )
    if prev is None:
        return req
    if p.caps.extend:
        req.extend_from = prev
        req.extend_job = _extend_ref(p, job)
    elif p.caps.max_conditioning_frames > 0 and (history := _history(p, job)):
        req.history = history
        if p.caps.image_to_video and req.image is None:
            req.image = history[-1].path  # the newest frame, for backends that use only one
    elif p.caps.image_to_video and req.image is None:
        from ..context.frames import last_frame_png

        req.image = last_frame_png(prev, p.run.clips_dir / f"{shot.id}.from-prev.png")
    return req


def previous_clip(p: Production, job: ShotJob) -> Path | None:
    """The clip a continuing shot picks up from: the previous shot's, or for the first shot the video
    being extended (`continues_from`)."""
    if job.previous is None:
        return p.continues_from
    return accepted_clip(p, job_for(p, job.previous))


def _extend_ref(p: Production, job: ShotJob) -> str | None:
    """The provider's handle on the previous shot's generation, for native extension."""
    if job.previous is None:
        return None
    rec = p.state.accepted.get(job_for(p, job.previous).fingerprint)
    return rec.extend_ref if rec else None


def _selection(p: Production, job: ShotJob):
    """References for this shot under the generator's cap (spec: context.md), or None without refs."""
    from ..context.references import select_references

    plan = p.need_plan()
    if not p.caps.reference_images or p.caps.max_references <= 0:
        return None
    if not any(e.references for e in plan.cast.entities if e.id in job.shot.entities):
        return None
    if p.caps.reference_durations and job.gen_duration not in p.caps.reference_durations:
        return None  # this backend takes references only at some durations; the prompt describes them instead
    return select_references(job.shot, plan, generator_cap=p.caps.max_references, style=p.style)


def _history(p: Production, job: ShotJob) -> list[HistoryFrame]:
    """Packed history for a continuing shot: the accepted clips of the continuous chain before it."""
    from ..context.frames import packed_history

    plan = p.need_plan()
    shots = plan.shots
    clips: list[Path] = []
    user_image: Path | None = None
    j = job.index - 1
    while j >= 0 and (clip := accepted_clip(p, job_for(p, shots[j]))) is not None:
        clips.insert(0, clip)
        user_image = shots[j].image
        if not shots[j].continues:
            break
        j -= 1
    if j < 0 and p.continues_from is not None:  # the chain continues the video being extended
        clips.insert(0, p.continues_from)
        user_image = None
    if not clips:
        return []
    budget = p.caps.max_conditioning_frames
    history, sampled = packed_history(
        clips, user_image, width=plan.width, height=plan.height, fps=plan.fps, budget=budget,
        full_size=p.caps.conditioning_full_size, cache=p.run.clips_dir / "history",
        out_dir=p.run.clips_dir / f"{job.id}.history", frame_counts=p.frame_counts)
    cost = sum(1 / f.factor**2 for f in history)
    p.bus.emit("generate", "info", f"history: {len(history)} of {sampled} frames, {cost:.2f} of {budget} full frames",
               shot=job.id, data={"history_frames": len(history), "history_length": sampled, "history_cost": cost})
    return history
