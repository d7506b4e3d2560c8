"""A shot's job, computed once per take loop: its place in the plan, the shot before it, the length
to ask of the generator, whether it is a native extension, and its clip fingerprint (the key an
accepted clip is stored and reused under)."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from ..cards import card_identity, is_card
from ..errors import BriefError
from ..plan import Plan, Shot
from ..runs.store import clip_fingerprint
from ..timing import frames_to_seconds, timecode
from .production import Production

TRANSITION_SECONDS = Fraction(1, 2)


@dataclass(frozen=True)
class ShotJob:
    shot: Shot
    index: int
    count: int
    previous: Shot | None
    gen_duration: Fraction
    extends: bool  # made by the backend's native extension of the clip before it
    fingerprint: str

    @property
    def id(self) -> str:
        return self.shot.id


def job_for(p: Production, shot: Shot) -> ShotJob:
    plan = p.need_plan()
    index = index_of(plan, shot)
    extends = bool(shot.continues and p.caps.extend and (index > 0 or p.continues_from is not None))
    gen = gen_duration(p, shot, index, extends)
    return ShotJob(shot=shot, index=index, count=len(plan.shots), previous=plan.shots[index - 1] if index else None,
                   gen_duration=gen, extends=extends, fingerprint=_fingerprint(p, shot, gen))


def index_of(plan: Plan, shot: Shot) -> int:
    """The shot's position by identity (shots are models: two equal shots are still two shots)."""
    for i, s in enumerate(plan.shots):
        if s is shot:
            return i
    return plan.shots.index(shot)


def gen_duration(p: Production, shot: Shot, index: int, extends: bool) -> Fraction:
    """Seconds to ask of the generator: the plan's choice, lengthened to an allowed duration when a
    transition out of this shot needs spare frames to overlap the next shot."""
    plan = p.need_plan()
    fps = plan.fps
    base = Fraction(shot.gen_duration) if shot.gen_duration else frames_to_seconds(shot.source_frames + shot.in_frame, fps)
    if extends and p.caps.extend_durations:
        # A native extension adds what the backend adds (Veo: 7 s); the cut uses what the shot needs.
        need = frames_to_seconds(shot.in_frame + shot.source_frames, fps)
        options = sorted(p.caps.extend_durations)
        return next((d for d in options if d >= need), options[-1])
    if shot.transition == "cut" or index == len(plan.shots) - 1:
        return base
    need = frames_to_seconds(shot.in_frame + shot.source_frames + overlap_wanted(plan, index), fps)
    if need <= base:
        return base
    try:
        allowed = p.caps.allowed_durations()
    except BriefError:
        allowed = []
    longer = [d for d in allowed if d >= need]
    return min(longer) if longer else base


def overlap_wanted(plan: Plan, index: int) -> int:
    """Frames a transition out of shot `index` overlaps: half a second, at most half of either shot."""
    shot, nxt = plan.shots[index], plan.shots[index + 1]
    half_second = int(plan.fps * TRANSITION_SECONDS + Fraction(1, 2))
    return max(0, min(half_second, shot.frames // 2, nxt.frames // 2))


def _fingerprint(p: Production, shot: Shot, gen: Fraction) -> str:
    """Everything that decides a generated clip's pixels, and nothing else: trims, speed, fades,
    overlays and the shot's place in the cut are applied later, so edits to them reuse the clip."""
    plan = p.need_plan()
    if is_card(shot):
        return clip_fingerprint({"tool": "card", **card_identity(plan, shot), "frames": card_frames(plan, shot)})
    # Only user-given references count: frames harvested from accepted shots are derived data, and
    # counting them would change a shot's identity while it is being made.
    refs = sorted(str(r.path) for e in plan.cast.entities if e.id in shot.entities
                  for r in e.references if r.source == "user")
    return clip_fingerprint({
        "generator": p.brief.generator, "model": p.generator.model, "prompt": shot.prompt,
        "negative": shot.negative_prompt, "gen_duration": str(gen),
        "size": [plan.width, plan.height], "fps": str(plan.fps), "seed": shot.seed,
        "refs": refs, "image": str(shot.image) if shot.image else None, "continues": shot.continues,
        "beat": shot.beat, "camera": shot.camera,
    })


def card_frames(plan: Plan, shot: Shot) -> int:
    """Frames a card clip holds: what the cut uses, plus what a transition out of it overlaps."""
    index = index_of(plan, shot)
    overlap = 0 if shot.transition == "cut" or index == len(plan.shots) - 1 else overlap_wanted(plan, index)
    return shot.in_frame + shot.source_frames + overlap


def accepted_clip(p: Production, job: ShotJob) -> Path | None:
    """The accepted clip for this job as planned now, if one exists (resume and edits reuse it)."""
    return p.run.accepted_clip(p.state, job.fingerprint)


def display(p: Production, job: ShotJob) -> dict:
    plan = p.need_plan()
    return {"index": job.index + 1, "count": job.count, "beat": job.shot.beat, "camera": job.shot.camera,
            "start_tc": timecode(plan.shot_start(job.shot)), "title": plan.title, "shot_id": job.id}
