"""The take loop — the one place a clip is made: reuse → request → reserve → generate → check →
accept or revise. The fixed policy (`Director.run_all`) and every tool (`tools.Toolbox`) reach it
through `produce`; the budget counts takes per shot, so a shot makes at most 1 + max_retries_per_shot
takes whoever drives."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ClipRejectedError, GeneratorError, ModerationError, ReelwrightError
from ..generators.base import ClipResult
from ..planning.rewrite import revise_prompt, soften_prompt
from ..runs.store import AcceptedClip, JobRecord
from ..timing import frames_to_seconds
from ..cards import is_card, make_card_clip
from . import reuse
from .job import ShotJob, accepted_clip, card_frames
from .production import Production
from .request import previous_clip, request_for


@dataclass
class ShotOutcome:
    shot_id: str
    path: Path
    attempts: int
    cost_usd: float
    reused: bool = False
    verdicts: list[dict[str, Any]] = field(default_factory=list)


def produce(p: Production, job: ShotJob, *, feedback: list[str] | None = None, force: bool = False) -> ShotOutcome:
    """Make `job`'s clip: reuse an accepted one unless `force`, else take after take (new seed, prompt
    revised from the last rejection) until one passes or the shot's takes are used up. One loop per
    shot at a time, so no shot is ever submitted twice concurrently."""
    with p.budget.shot_lock(job.id):
        return _produce(p, job, feedback=feedback, force=force)


def _produce(p: Production, job: ShotJob, *, feedback: list[str] | None, force: bool) -> ShotOutcome:
    shot = job.shot
    if not force and (existing := accepted_clip(p, job)) is not None:
        p.bus.emit("generate", "skipped", "reusing accepted clip", shot=shot.id)
        return ShotOutcome(shot.id, existing, p.state.accepted[job.fingerprint].attempts, 0.0, reused=True)
    if is_card(shot):
        return draw_card(p, job)
    if not force and not feedback and (cached := reuse.from_cache(p, job, remember)) is not None:
        return ShotOutcome(shot.id, cached, 0, 0.0, reused=True)
    reasons = list(feedback or [])
    prompt = revise_prompt(shot.prompt, reasons) if reasons else shot.prompt
    total_cost, verdicts = 0.0, []
    moderation_rewrites = attempt = 0
    failure: GeneratorError | None = None  # the last take's generator failure, if it failed that way
    # The takes this call may still make; the budget re-checks each one (another caller may share the shot).
    while p.budget.takes_left(shot.id) > 0:
        req = request_for(p, job, attempt=attempt + (100 if force else 0), prompt=prompt)
        pending = p.state.jobs.get(job.fingerprint)  # submitted before and never accepted: fetch, don't pay
        billed = pending is not None and pending.billed_usd is not None
        req.resume_job = pending.job_id if pending is not None else None
        req.on_submitted = lambda job_id: _record_job(p, job, job_id)
        estimate = 0.0 if billed else p.generator.estimate_cost(req.duration)
        p.budget.reserve_take(shot.id, estimate)
        step = "generate" if attempt == 0 and not force else "regenerate"
        # The whole prompt the generator gets (revisions, reference wording) goes to trace.jsonl.
        p.bus.emit(step, "start", prompt[:80], shot=shot.id, data={"attempt": attempt + 1, "prompt": req.prompt})
        t0 = time.perf_counter()
        result: ClipResult | None = None
        try:
            result = p.generator.generate(req, progress=lambda f, m="", s=shot.id: p.bus.emit(
                "generate", "progress", m, shot=s, progress=f))
        except ModerationError as exc:
            p.budget.refund_take(shot.id, estimate)  # a refused request made nothing: not a take
            _forget_job(p, job)  # a refused job has nothing to fetch: the rewrite is a new submission
            moderation_rewrites += 1
            p.bus.emit("generate", "retry", f"blocked by moderation: {exc}; rewriting the prompt", shot=shot.id)
            if moderation_rewrites > p.limits.max_moderation_rewrites:
                raise ClipRejectedError(f"shot {shot.id}: the provider refused every rewrite of the prompt") from exc
            prompt = soften_prompt(prompt)
            continue
        except GeneratorError as exc:
            failure = exc
            spent = _job_failed(p, job, exc, estimate)
            total_cost += spent
            p.bus.emit(step, "failed", str(exc), shot=shot.id, cost_usd=spent or None)
            reasons = [f"generation failed: {exc}"]
            attempt += 1
            continue
        failure = None
        cost = 0.0 if billed else result.cost_usd  # a re-fetched job was counted when it was billed
        p.budget.settle(estimate, cost)
        total_cost += cost
        _forget_job(p, job)
        p.bus.emit(step, "done", f"{float(result.duration):.2f} s clip", shot=shot.id,
                   elapsed_s=time.perf_counter() - t0, cost_usd=result.cost_usd)
        final_path = p.run.clips_dir / f"{shot.id}-{job.fingerprint}.mp4"
        verdict = check_take(p, job, result.path, final_path)
        verdicts.append(verdict.model_dump())
        attempt += 1
        if verdict.passed:
            _accept(p, job, final_path, result, attempt, total_cost, verdicts)
            return ShotOutcome(shot.id, final_path, attempt, total_cost, verdicts=verdicts)
        reasons = verdict.reasons
        p.bus.emit("check", "failed", "; ".join(reasons)[:200], shot=shot.id)
        final_path.unlink(missing_ok=True)
        prompt = revise_prompt(shot.prompt, reasons)
    p.report.shot(shot.id, {"shot_id": shot.id, "attempts": attempt, "verdicts": verdicts, "cost_usd": total_cost,
                            "accepted": False})
    if attempt == 0:  # no take was left for this call: the limit, not the clip, stops it
        p.budget.check_take(shot.id)
    if failure is not None:
        raise ClipRejectedError(f"shot {shot.id}: generation failed {attempt} times: {failure}") from failure
    raise ClipRejectedError(f"shot {shot.id} failed its checks {attempt} times: {'; '.join(reasons)}", reasons)


def draw_card(p: Production, job: ShotJob) -> ShotOutcome:
    """A card shot is drawn by the card tool: never sent to the generator, free, no take spent, checked like
    any clip (a deterministic tool that fails its checks is our bug, not a clip to retry)."""
    from ..critique.technical import ClipExpectation, check_clip

    plan, shot = p.need_plan(), job.shot
    t0 = time.perf_counter()
    frames = card_frames(plan, shot)
    p.bus.emit("card", "start", f"drawing the {shot.purpose or 'card'}", shot=shot.id)
    path = p.run.clips_dir / f"{shot.id}-{job.fingerprint}.mp4"
    make_card_clip(plan, shot, path, frames=frames)
    verdict = check_clip(path, ClipExpectation(frames=frames, fps=plan.fps, width=plan.width, height=plan.height,
                                               need_audio=True, black_max_s=None))
    if not verdict.passed:
        raise ClipRejectedError(f"shot {shot.id}: the card failed its checks: {'; '.join(verdict.reasons)}",
                                verdict.reasons)
    rec = AcceptedClip(shot_id=shot.id, fingerprint=job.fingerprint, path=str(path.relative_to(p.run.root)),
                       attempts=1, cost_usd=0.0, seconds_generated=0.0, verdicts=[verdict.model_dump()])
    with p.budget.lock:
        p.state.accepted[job.fingerprint] = rec
        p.run.save_state(p.state)
    p.report.shot(shot.id, rec.model_dump())
    p.bus.emit("card", "done", f"{shot.purpose or 'card'} drawn", shot=shot.id, cost_usd=0.0,
               elapsed_s=time.perf_counter() - t0)
    return ShotOutcome(shot.id, path, 1, 0.0, verdicts=[verdict.model_dump()])


def _record_job(p: Production, job: ShotJob, job_id: str) -> None:
    """Called by the adapter the moment the provider gave a job id, before polling."""
    with p.budget.lock:
        p.state.jobs[job.fingerprint] = JobRecord(shot_id=job.id, job_id=job_id)
        p.run.save_state(p.state)


def _job_failed(p: Production, job: ShotJob, exc: GeneratorError, estimate: float) -> float:
    """Settle a failed take and return what it cost. A job the provider finished but we could not fetch
    is paid for: its cost counts once, and the job stays recorded so the next take fetches it again.
    Any other failure made nothing to fetch: the record goes."""
    with p.budget.lock:
        rec = p.state.jobs.get(job.fingerprint)
        if exc.job_id and rec is not None and rec.job_id == exc.job_id:
            spent = 0.0
            if exc.billed_usd is not None and rec.billed_usd is None:
                spent = rec.billed_usd = float(exc.billed_usd)
        else:
            spent = 0.0
            p.state.jobs.pop(job.fingerprint, None)
    p.budget.settle(estimate, spent)
    with p.budget.lock:
        p.run.save_state(p.state)  # the money and the job to fetch are on disk together
    return spent


def _forget_job(p: Production, job: ShotJob) -> None:
    with p.budget.lock:
        if p.state.jobs.pop(job.fingerprint, None) is not None:
            p.run.save_state(p.state)


def _accept(p: Production, job: ShotJob, path: Path, result: ClipResult, takes: int, cost: float,
            verdicts: list[dict[str, Any]]) -> None:
    rec = AcceptedClip(shot_id=job.id, fingerprint=job.fingerprint, path=str(path.relative_to(p.run.root)),
                       attempts=takes, cost_usd=cost, verdicts=verdicts,
                       seconds_generated=float(result.seconds_generated or result.duration),
                       job_id=result.job_id, extend_ref=result.metadata.get("video_uri") or result.job_id)
    with p.budget.lock:
        p.state.accepted[job.fingerprint] = rec
        p.run.save_state(p.state)
        remember(p, job, path)
    p.report.shot(job.id, rec.model_dump())
    p.bus.emit("check", "done", "passed", shot=job.id, data={"attempts": takes})
    reuse.to_cache(p, job, path, cost_usd=cost, seconds=rec.seconds_generated)


def check_take(p: Production, job: ShotJob, raw: Path, final_path: Path):
    """Conform the whole raw clip to the cut's spec (skipped when it already matches), then run the
    critics. The cut later takes the frames it needs from this accepted clip."""
    from ..critique.base import Check, Verdict
    from ..critique.technical import ClipExpectation, check_clip
    from ..media import conform, probe

    plan = p.need_plan()
    shot = job.shot
    info = probe(raw)
    need = shot.in_frame + shot.source_frames
    have = max(info.frames, int(info.video_duration * plan.fps))
    if have < need - 1:
        return Verdict.from_checks([Check(
            name="duration", passed=False,
            detail=f"clip is {float(info.video_duration):.3f} s, the shot needs {float(frames_to_seconds(need, plan.fps)):.3f} s")])
    if p.spec.matches(info, audio=True):
        raw.replace(final_path)
    else:
        conform(raw, final_path, p.spec)
        raw.unlink(missing_ok=True)
    expectation = ClipExpectation(frames=max(need, round(job.gen_duration * plan.fps)), fps=plan.fps, width=plan.width,
                                  height=plan.height, need_audio=True)
    verdict = check_clip(final_path, expectation)
    if verdict.passed and p.judge is not None:
        jv = p.judge.judge_clip(final_path, expectation, {"prompt": shot.prompt, "beat": shot.beat,
                                                          "previous": previous_clip(p, job)})
        verdict = Verdict(passed=jv.passed, checks=verdict.checks + jv.checks, scores=jv.scores,
                          reasons=jv.reasons, critic="technical+judge")
    return verdict


def remember(p: Production, job: ShotJob, clip: Path) -> None:
    """Cast memory: who appeared where; for generators that take references, a verified middle frame
    of the accepted clip becomes a reference for later shots (the consistency check decides)."""
    from ..context.memory import CastMemory

    plan = p.need_plan()
    shot = job.shot
    memory = CastMemory.from_plan(plan)
    if p.caps.reference_images and shot.entities:
        from ..media import extract_frame

        png = p.run.clips_dir / f"{shot.id}-ref.png"
        try:
            extract_frame(clip, png, frame=max(0, shot.source_frames // 2))
            for ent_id in shot.entities:
                ent = plan.cast.get(ent_id)
                if ent is not None and ent.kind == "character" and not any(r.source == "user" for r in ent.references):
                    memory.add_frame_reference(ent_id, png, shot.id, view=shot.camera)
        except ReelwrightError as exc:
            p.bus.emit("check", "warning", f"no frame reference from {shot.id}: {exc}", shot=shot.id)
    memory.save(p.run.memory_path)
