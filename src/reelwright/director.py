"""The Director: runs the flow brief → plan → clips → checks → regeneration → cut → verification,
enforcing the limits (retries, spend) and emitting an event for every step.

Its public methods are the operations the tool layer (`tools.py`) exposes to an LLM agent; `run()`
is the fixed-order policy used when no agent drives."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from .brief import Brief, check_reference_files
from .errors import (
    AgentError,
    BriefError,
    BudgetExceededError,
    ClipRejectedError,
    GeneratorError,
    InputFileError,
    ModerationError,
    ReelwrightError,
)
from .events import EventBus, TraceWriter
from .generators.base import Capabilities, ClipRequest, ClipResult, Generator, HistoryFrame
from .generators.registry import get_generator
from .plan import Plan, Shot
from .runs.store import AcceptedClip, RunDir, RunState, clip_fingerprint
from .timing import frames_to_seconds, timecode

MAX_SECONDS_DEFAULT = 3600
TRANSITION_SECONDS = Fraction(1, 2)
HISTORY_SAMPLES_PER_SECOND = 2  # history frames sampled per second of earlier clips (plus each clip's last)
HISTORY_MIN_SIDE = 16  # older history frames shrink no smaller than this many pixels on the short side


class Limits(BaseModel):
    """Hard limits the harness enforces, whoever drives (fixed policy or a model)."""

    max_steps: int = 200
    max_retries_per_shot: int = 2
    max_spend_usd: float | None = None
    max_moderation_rewrites: int = 2


@dataclass
class ShotOutcome:
    shot_id: str
    path: Path
    attempts: int
    cost_usd: float
    reused: bool = False
    verdicts: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Delivery:
    output: Path
    run: RunDir
    plan: Plan
    duration: Fraction
    report: dict[str, Any]


# Words in a failed check, mapped to what the next prompt should ask for instead.
_FIX_HINTS = {
    "black": "the scene is clearly lit and the subject stays visible in every moment",
    "frozen": "continuous natural motion throughout, nothing stays still for long",
    "audio": "with a clear ambient soundscape",
}


class Director:
    """One job. Thread-safe where clips are produced concurrently."""

    def __init__(self, brief: Brief, *, run: RunDir, generator: Generator | None = None, llm: Any = None,
                 bus: EventBus | None = None, limits: Limits | None = None,
                 judge: Any = None, generator_options: dict[str, Any] | None = None, concurrency: int | None = None):
        self.brief = brief
        self.run = run
        self.bus = bus or EventBus()
        self.bus.subscribe(TraceWriter(run.trace_path))
        self.generator = generator or get_generator(brief.generator, **(generator_options or {}))
        self.caps: Capabilities = self.generator.capabilities()
        self.llm = llm
        self.judge = judge
        self.limits = limits or Limits(max_spend_usd=brief.budget_usd)
        if self.limits.max_spend_usd is None and brief.budget_usd is not None:
            self.limits.max_spend_usd = brief.budget_usd
        self.state: RunState = run.load_state()
        self.plan: Plan | None = run.load_plan()
        self._lock = threading.Lock()
        self._reserved_usd = 0.0
        self._steps: list[dict[str, Any]] = []
        self._shot_reports: dict[str, dict[str, Any]] = {}
        self.anchor_clip: Path | None = None  # a video this run continues (extend)
        if concurrency is not None and concurrency < 1:
            raise BriefError(f"concurrency must be at least 1, got {concurrency}")
        # Clips made at once: the backend's own bound, or fewer when the person asks (rate limits, memory).
        self.concurrency = min(concurrency, self.caps.concurrency) if concurrency else self.caps.concurrency
        self._frame_counts: dict[Path, int] = {}  # accepted clips never change: probe each once

    # ---------------------------------------------------------------- planning
    def make_plan(self) -> Plan:
        """Plan the brief (built-in rules, or the chat model when one is configured)."""
        t0 = time.perf_counter()
        self.bus.emit("plan", "start", "drafting prompts and structuring clips")
        if self.brief.references:
            check_reference_files(self.brief.references)
        if self.llm is not None:
            from .planning.llm_planner import plan_with_llm

            plan = plan_with_llm(self.brief, self.caps, self.llm, bus=self.bus,
                                 fallback=getattr(self, "fallback", None))
        else:
            from .planning.builtin import build_plan

            plan = build_plan(self.brief, self.caps)
        self._check_length(plan)
        self.set_plan(plan)
        self._step("plan", t0)
        self.bus.emit("plan", "done", f"{len(plan.shots)} shots, {float(plan.duration):.3f} s, "
                      f"estimated ${plan.estimated_cost_usd:.2f}",
                      data={"shots": len(plan.shots), "frames": plan.total_frames},
                      elapsed_s=time.perf_counter() - t0)
        return plan

    def set_plan(self, plan: Plan) -> None:
        if plan.total_frames != plan.target_frames:
            raise BriefError(f"plan shots add up to {plan.total_frames} frames but the target is {plan.target_frames}")
        self._check_length(plan)
        self.plan = plan
        self.run.save_plan(plan)
        self.state.status = "planned"
        self.run.save_state(self.state)

    def _check_length(self, plan: Plan) -> None:
        if plan.duration > MAX_SECONDS_DEFAULT and not self.brief.allow_long:
            raise BriefError(f"{float(plan.duration):.0f} s is over an hour; pass --allow-long to make it anyway")

    # ---------------------------------------------------------------- media spec
    @property
    def spec(self):
        from .media import VideoSpec

        assert self.plan is not None
        return VideoSpec(width=self.plan.width, height=self.plan.height, fps=self.plan.fps)

    # ---------------------------------------------------------------- clips
    def fingerprint(self, shot: Shot) -> str:
        """Everything that decides a generated clip's pixels, and nothing else: trims, speed, fades,
        overlays and the shot's place in the cut are applied later, so edits to them reuse the clip."""
        assert self.plan is not None
        # Only user-given references count: frames harvested from accepted shots are derived data, and
        # counting them would change a shot's identity while it is being made.
        refs = sorted(str(r.path) for e in self.plan.cast.entities if e.id in shot.entities
                      for r in e.references if r.source == "user")
        return clip_fingerprint({
            "generator": self.brief.generator, "model": self.generator.model, "prompt": shot.prompt,
            "negative": shot.negative_prompt, "gen_duration": str(self._gen_duration(shot)),
            "size": [self.plan.width, self.plan.height], "fps": str(self.plan.fps), "seed": shot.seed,
            "refs": refs, "image": str(shot.image) if shot.image else None, "continues": shot.continues,
            "beat": shot.beat, "camera": shot.camera,
        })

    def _gen_duration(self, shot: Shot) -> Fraction:
        """Seconds to ask of the generator: the plan's choice, lengthened to an allowed duration when a
        transition out of this shot needs spare frames to overlap the next shot."""
        assert self.plan is not None
        fps = self.plan.fps
        base = Fraction(shot.gen_duration) if shot.gen_duration else frames_to_seconds(shot.source_frames + shot.in_frame, fps)
        if self._extends(shot) and self.caps.extend_durations:
            # A native extension adds what the backend adds (Veo: 7 s); the cut uses what the shot needs.
            need = frames_to_seconds(shot.in_frame + shot.source_frames, fps)
            options = sorted(self.caps.extend_durations)
            return next((d for d in options if d >= need), options[-1])
        if shot.transition == "cut" or shot is self.plan.shots[-1]:
            return base
        need = frames_to_seconds(shot.in_frame + shot.source_frames + self._overlap_wanted(shot), fps)
        if need <= base:
            return base
        longer = [d for d in self._allowed() if d >= need]
        return min(longer) if longer else base

    def _extends(self, shot: Shot) -> bool:
        """Whether this shot is made by the backend's native extension of the clip before it."""
        assert self.plan is not None
        if not (shot.continues and self.caps.extend):
            return False
        return self.plan.shots.index(shot) > 0 or self.anchor_clip is not None

    def _allowed(self) -> list[Fraction]:
        try:
            return self.caps.allowed_durations()
        except BriefError:
            return []

    def _overlap_wanted(self, shot: Shot) -> int:
        """Frames a transition out of `shot` overlaps: half a second, at most half of either shot."""
        assert self.plan is not None
        i = self.plan.shots.index(shot)
        nxt = self.plan.shots[i + 1]
        half_second = int(self.plan.fps * TRANSITION_SECONDS + Fraction(1, 2))
        return max(0, min(half_second, shot.frames // 2, nxt.frames // 2))

    def accepted_clip(self, shot: Shot) -> Path | None:
        """The accepted clip for this shot as planned now, if one exists (resume and edits reuse it)."""
        rec = self.state.accepted.get(self.fingerprint(shot))
        if rec is None:
            return None
        path = self.run.root / rec.path
        return path if path.is_file() else None

    def _display(self, shot: Shot) -> dict[str, Any]:
        assert self.plan is not None
        index = self.plan.shots.index(shot)
        return {"index": index + 1, "count": len(self.plan.shots), "beat": shot.beat, "camera": shot.camera,
                "start_tc": timecode(self.plan.shot_start(shot)), "title": self.plan.title, "shot_id": shot.id}

    def _selection(self, shot: Shot):
        """References for this shot under the generator's cap (spec: context.md), or None without refs."""
        from .context.references import select_references

        assert self.plan is not None
        if not self.caps.reference_images or self.caps.max_references <= 0:
            return None
        if not any(e.references for e in self.plan.cast.entities if e.id in shot.entities):
            return None
        if self.caps.reference_durations and self._gen_duration(shot) not in self.caps.reference_durations:
            return None  # this backend takes references only at some durations; the prompt describes them instead
        return select_references(shot, self.plan, generator_cap=self.caps.max_references, style=self._style())

    def _style(self) -> str:
        from .planning.styles import style_for_generator

        return style_for_generator(self.brief.generator.split(":")[0], self.generator.model)

    def request_for(self, shot: Shot, *, attempt: int = 0, prompt: str | None = None) -> ClipRequest:
        assert self.plan is not None
        gen_duration = self._gen_duration(shot)
        out = self.run.clips_dir / f"{shot.id}.raw{attempt}.mp4"
        text = prompt or shot.prompt
        # An extension continues the previous clip's pixels: no provider takes reference images with it.
        extending = shot.continues and self.caps.extend and self._previous_clip(shot) is not None
        selection = None if extending else self._selection(shot)
        style = self._style()
        if selection is not None and style in ("grok", "xai"):
            # Numbered tokens must match the images actually sent, which the harness (not the planner) picks.
            from .context.references import apply_to_prompt, strip_reference_tokens

            text = apply_to_prompt(strip_reference_tokens(text), selection, style)
        elif selection is not None and "reference image" not in text.lower():
            from .context.references import apply_to_prompt

            text = apply_to_prompt(text, selection, style)
        req = ClipRequest(
            shot_id=shot.id, prompt=text, negative_prompt=shot.negative_prompt,
            duration=gen_duration, width=self.plan.width, height=self.plan.height, aspect=self.plan.aspect,
            resolution=self.plan.brief.resolution, fps=self.plan.fps, seed=shot.seed + 1009 * attempt,
            model=self.generator.model, image=shot.image, references=list(selection.refs) if selection else [],
            audio=self.caps.audio, out_path=out, display=self._display(shot),
        )
        if shot.continues:
            prev = self._previous_clip(shot)
            if prev is not None:
                if self.caps.extend:
                    req.extend_from = prev
                    req.extend_job = self._extend_ref(shot)
                elif self.caps.max_conditioning_frames > 0 and (history := self._history(shot)):
                    req.history = history
                    if self.caps.image_to_video and req.image is None:
                        req.image = history[-1].path  # the newest frame, for backends that use only one
                elif self.caps.image_to_video and req.image is None:
                    from .media import extract_last_frame

                    png = self.run.clips_dir / f"{shot.id}.from-prev.png"
                    extract_last_frame(prev, png)
                    req.image = png
        return req

    def _history(self, shot: Shot) -> list[HistoryFrame]:
        """Packed history for a continuing shot (context.md point 3): frames sampled from the accepted clips
        of the continuous chain before it, plus an anchor (the chain's user image, else its first frame),
        packed into `max_conditioning_frames` full-frame equivalents and written as PNGs, oldest first."""
        import math

        from PIL import Image, ImageOps

        from .context.history import pack_frames, pack_history, to_conditions
        from .media import frames_by_index, probe
        from .media.util import atomic_output

        assert self.plan is not None
        shots, w, h = self.plan.shots, self.plan.width, self.plan.height
        clips: list[Path] = []
        user_image: Path | None = None
        j = shots.index(shot) - 1
        while j >= 0 and (clip := self.accepted_clip(shots[j])) is not None:
            clips.insert(0, clip)
            user_image = shots[j].image
            if not shots[j].continues:
                break
            j -= 1
        if j < 0 and self.anchor_clip is not None:  # the chain continues the video being extended
            clips.insert(0, self.anchor_clip)
            user_image = None
        if not clips:
            return []
        cache = self.run.clips_dir / "history"
        stride = max(1, round(self.plan.fps / HISTORY_SAMPLES_PER_SECOND))
        # (png, clip, frame, position on the chain's timeline); each clip starts on the frame the one before
        # it ended on, so its frame 0 is not sampled again. Sampling runs back from each clip's last frame.
        anchor_png = cache / (f"{clips[0].stem}-image.png" if user_image else f"{clips[0].stem}-00000.png")
        frames: list[tuple[Path, Path | None, int, int]] = [(anchor_png, None if user_image else clips[0], 0, 0)]
        start = 0
        for clip in clips:
            if clip not in self._frame_counts:
                self._frame_counts[clip] = probe(clip).frames
            n = self._frame_counts[clip]
            frames += [(cache / f"{clip.stem}-{f:05d}.png", clip, f, start + f)
                       for f in sorted(range(n - 1, 0, -stride))]
            start += n - 1
        budget = self.caps.max_conditioning_frames
        full = self.caps.conditioning_full_size
        opts = dict(full_cost=1.0, budget=budget, anchors=1, n0=max(1, (budget - 1) // 2),  # bound 1 + 2·n0 ≤ budget
                    temporal_stride_only=full,
                    max_tier=None if full else max(0, math.floor(math.log2(max(1, min(w, h)) / HISTORY_MIN_SIDE))))
        wanted: dict[Path, list[tuple[int, Path]]] = {}
        for k in pack_history(len(frames), **opts).indices:  # extract only the frames that will be kept
            png, clip, f, _ = frames[k]
            if png.is_file():
                continue
            if clip is None:
                try:
                    with Image.open(user_image) as im, atomic_output(png) as tmp:
                        ImageOps.fit(im.convert("RGB"), (w, h), method=Image.Resampling.LANCZOS).save(tmp, format="PNG")
                except OSError as exc:
                    raise InputFileError(f"cannot read the first-frame image {user_image}: {exc}") from exc
            else:
                wanted.setdefault(clip, []).append((f, png))
        for clip, todo in wanted.items():
            for (_, png), image in zip(todo, frames_by_index(clip, [f for f, _ in todo])):
                with atomic_output(png) as tmp:
                    image.save(tmp, format="PNG")
        packed = pack_frames([png for png, *_ in frames], **opts)
        out_dir = self.run.clips_dir / f"{shot.id}.history"
        out_dir.mkdir(exist_ok=True)
        for old in out_dir.glob("*.png"):
            old.unlink()
        newest = frames[-1][3]
        history = []
        for n, (p, (image, k, strength)) in enumerate(zip(packed, to_conditions(packed))):
            png = out_dir / f"{n:02d}-x{p.factor}.png"
            with atomic_output(png) as tmp:
                image.save(tmp, format="PNG")
            history.append(HistoryFrame(path=png, frame_index=frames[k][3] - newest, factor=p.factor,
                                        strength=strength))
        cost = sum(1 / f.factor**2 for f in history)
        self.bus.emit("generate", "info", f"history: {len(history)} of {len(frames)} frames, {cost:.2f} of "
                      f"{budget} full frames", shot=shot.id,
                      data={"history_frames": len(history), "history_length": len(frames), "history_cost": cost})
        return history

    def _previous_clip(self, shot: Shot) -> Path | None:
        """The clip a continuing shot picks up from: the previous shot's, or for the first shot the
        video being extended (`anchor_clip`)."""
        assert self.plan is not None
        i = self.plan.shots.index(shot)
        return self.accepted_clip(self.plan.shots[i - 1]) if i > 0 else self.anchor_clip

    def _extend_ref(self, shot: Shot) -> str | None:
        """The provider's handle on the previous shot's generation, for native extension."""
        assert self.plan is not None
        i = self.plan.shots.index(shot)
        if i == 0:
            return None
        rec = self.state.accepted.get(self.fingerprint(self.plan.shots[i - 1]))
        return rec.extend_ref if rec else None

    def _reserve(self, usd: float, shot_id: str) -> None:
        with self._lock:
            cap = self.limits.max_spend_usd
            if cap is not None and self.state.spent_usd + self._reserved_usd + usd > cap + 1e-9:
                raise BudgetExceededError(
                    f"shot {shot_id} would cost ${usd:.2f} and cross the budget of ${cap:.2f} "
                    f"(spent ${self.state.spent_usd:.2f}); raise --budget or shorten the video")
            self._reserved_usd += usd

    def _settle(self, reserved: float, actual: float) -> None:
        with self._lock:
            self._reserved_usd -= reserved
            self.state.spent_usd += actual

    def produce_shot(self, shot: Shot, *, feedback: list[str] | None = None, force: bool = False) -> ShotOutcome:
        """Generate, conform and check one shot, regenerating with a new seed and a revised prompt
        until it passes or the retry limit is reached. Reuses an accepted clip unless `force`."""
        assert self.plan is not None
        fp = self.fingerprint(shot)
        if not force:
            existing = self.accepted_clip(shot)
            if existing is not None:
                self.bus.emit("generate", "skipped", "reusing accepted clip", shot=shot.id)
                rec = self.state.accepted[fp]
                return ShotOutcome(shot.id, existing, rec.attempts, 0.0, reused=True)
        prompt = shot.prompt
        reasons = list(feedback or [])
        if reasons:
            prompt = revise_prompt(prompt, reasons)
        total_cost, verdicts = 0.0, []
        moderation_rewrites = 0
        attempt = 0
        max_attempts = 1 + self.limits.max_retries_per_shot
        while attempt < max_attempts:
            req = self.request_for(shot, attempt=attempt + (100 if force else 0), prompt=prompt)
            estimate = self.generator.estimate_cost(Fraction(req.duration))
            self._reserve(estimate, shot.id)
            step = "generate" if attempt == 0 and not force else "regenerate"
            # The whole prompt the generator gets (revisions, reference wording) goes to trace.jsonl.
            self.bus.emit(step, "start", prompt[:80], shot=shot.id, data={"attempt": attempt + 1, "prompt": req.prompt})
            t0 = time.perf_counter()
            result: ClipResult | None = None
            try:
                result = self.generator.generate(req, progress=lambda f, m="", s=shot.id: self.bus.emit(
                    "generate", "progress", m, shot=s, progress=f))
            except ModerationError as exc:
                self._settle(estimate, 0.0)
                moderation_rewrites += 1
                self.bus.emit("generate", "retry", f"blocked by moderation: {exc}; rewriting the prompt", shot=shot.id)
                if moderation_rewrites > self.limits.max_moderation_rewrites:
                    raise ClipRejectedError(f"shot {shot.id}: the provider refused every rewrite of the prompt") from exc
                prompt = soften_prompt(prompt)
                continue  # a rewrite is not a retry of the same prompt
            except GeneratorError as exc:
                self._settle(estimate, 0.0)
                self.bus.emit(step, "failed", str(exc), shot=shot.id)
                reasons = [f"generation failed: {exc}"]
                attempt += 1
                if attempt >= max_attempts:
                    raise ClipRejectedError(f"shot {shot.id}: generation failed {attempt} times: {exc}") from exc
                continue
            self._settle(estimate, result.cost_usd)
            total_cost += result.cost_usd
            self.bus.emit(step, "done", f"{float(result.duration):.2f} s clip", shot=shot.id,
                          elapsed_s=time.perf_counter() - t0, cost_usd=result.cost_usd)
            final_path = self.run.clips_dir / f"{shot.id}-{fp}.mp4"
            verdict = self._conform_and_check(shot, result.path, final_path)
            verdicts.append(verdict.model_dump())
            if verdict.passed:
                rec = AcceptedClip(shot_id=shot.id, fingerprint=fp, path=str(final_path.relative_to(self.run.root)),
                                   attempts=attempt + 1, cost_usd=total_cost, verdicts=verdicts,
                                   seconds_generated=float(result.seconds_generated or result.duration),
                                   job_id=result.job_id,
                                   extend_ref=result.metadata.get("video_uri") or result.job_id)
                with self._lock:
                    self.state.accepted[fp] = rec
                    self._shot_reports[shot.id] = rec.model_dump()
                    self.run.save_state(self.state)
                    self._remember(shot, final_path)
                self.bus.emit("check", "done", "passed", shot=shot.id, data={"attempts": attempt + 1})
                return ShotOutcome(shot.id, final_path, attempt + 1, total_cost, verdicts=verdicts)
            reasons = verdict.reasons
            self.bus.emit("check", "failed", "; ".join(reasons)[:200], shot=shot.id)
            final_path.unlink(missing_ok=True)
            prompt = revise_prompt(shot.prompt, reasons)
            attempt += 1
        with self._lock:
            self._shot_reports[shot.id] = {"shot_id": shot.id, "attempts": attempt, "verdicts": verdicts,
                                           "cost_usd": total_cost, "accepted": False}
        raise ClipRejectedError(f"shot {shot.id} failed its checks {attempt} times: {'; '.join(reasons)}", reasons)

    def _conform_and_check(self, shot: Shot, raw: Path, final_path: Path):
        """Conform the whole raw clip to the cut's spec (skipped when it already matches), then run the
        critics. The cut later takes the frames it needs from this accepted clip."""
        from .critique.base import Check, Verdict
        from .critique.technical import ClipExpectation, check_clip
        from .media import conform, probe

        assert self.plan is not None
        info = probe(raw)
        need = shot.in_frame + shot.source_frames
        have = max(info.frames, int(info.video_duration * self.plan.fps))
        if have < need - 1:
            return Verdict.from_checks([Check(
                name="duration", passed=False,
                detail=f"clip is {float(info.video_duration):.3f} s, the shot needs {float(frames_to_seconds(need, self.plan.fps)):.3f} s")])
        if self.spec.matches(info, audio=True):
            raw.replace(final_path)
        else:
            conform(raw, final_path, self.spec)
            raw.unlink(missing_ok=True)
        expect_frames = max(need, round(self._gen_duration(shot) * self.plan.fps))
        expectation = ClipExpectation(frames=expect_frames, fps=self.plan.fps, width=self.plan.width,
                                      height=self.plan.height, need_audio=True)
        verdict = check_clip(final_path, expectation)
        if verdict.passed and self.judge is not None:
            jv = self.judge.judge_clip(final_path, expectation, {"prompt": shot.prompt, "beat": shot.beat,
                                                                   "previous": self._previous_clip(shot)})
            verdict = Verdict(passed=jv.passed, checks=verdict.checks + jv.checks, scores=jv.scores,
                              reasons=jv.reasons, critic="technical+judge")
        return verdict

    def _remember(self, shot: Shot, clip: Path) -> None:
        """Cast memory: who appeared where; for generators that take references, a verified middle frame
        of the accepted clip becomes a reference for later shots (the consistency check decides)."""
        from .context.memory import CastMemory

        assert self.plan is not None
        memory = CastMemory.from_plan(self.plan)
        if self.caps.reference_images and shot.entities:
            from .media import extract_frame

            png = self.run.clips_dir / f"{shot.id}-ref.png"
            try:
                extract_frame(clip, png, frame=max(0, shot.source_frames // 2))
                for ent_id in shot.entities:
                    ent = self.plan.cast.get(ent_id)
                    if ent is not None and ent.kind == "character" and not any(r.source == "user" for r in ent.references):
                        memory.add_frame_reference(ent_id, png, shot.id, view=shot.camera)
            except ReelwrightError as exc:
                self.bus.emit("check", "warning", f"no frame reference from {shot.id}: {exc}", shot=shot.id)
        memory.save(self.run.memory_path)

    def generate_all(self, shot_ids: Iterable[str] | None = None, *, force: bool = False) -> list[ShotOutcome]:
        """Produce every shot (or the named ones) concurrently, bounded by the generator's concurrency.
        Shots that continue the previous one wait for it."""
        assert self.plan is not None
        wanted = set(shot_ids) if shot_ids is not None else None
        shots = [s for s in self.plan.shots if wanted is None or s.id in wanted]
        self.state.status = "generating"
        self.run.save_state(self.state)
        chains: list[list[Shot]] = []
        for s in shots:
            if s.continues and chains and self.plan.shots.index(s) > 0 and chains[-1][-1] is self.plan.shots[self.plan.shots.index(s) - 1]:
                chains[-1].append(s)
            else:
                chains.append([s])
        t0 = time.perf_counter()
        self.bus.emit("generate", "start", f"generating {len(shots)} clips", total=len(shots), completed=0)
        outcomes: list[ShotOutcome] = []
        workers = max(1, min(self.concurrency, len(chains)))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="clip") as pool:
            for phase in self._phases(chains):
                self._run_phase(pool, phase, force, outcomes, len(shots))
        self._step("generate", t0)
        self.bus.emit("generate", "done", f"{len(shots)} clips ready", elapsed_s=time.perf_counter() - t0,
                      total=len(shots), completed=len(shots))
        return sorted(outcomes, key=lambda o: [s.id for s in self.plan.shots].index(o.shot_id))

    def _phases(self, chains: list[list[Shot]]) -> list[list[list[Shot]]]:
        """With a generator that takes references, the first appearance of each character that has no
        user reference is made first: its verified frame then becomes that character's reference for
        every later shot, the same whatever order the threads finish in."""
        assert self.plan is not None
        if not self.caps.reference_images:
            return [chains]
        firsts: set[str] = set()
        seen: set[str] = set()
        for s in self.plan.shots:
            for ent_id in s.entities:
                ent = self.plan.cast.get(ent_id)
                if ent_id not in seen and ent is not None and ent.kind == "character" and not ent.references:
                    firsts.add(s.id)
                seen.add(ent_id)
        lead = [c for c in chains if any(s.id in firsts for s in c)]
        rest = [c for c in chains if not any(s.id in firsts for s in c)]
        return [p for p in (lead, rest) if p]

    def _run_phase(self, pool: ThreadPoolExecutor, chains: list[list[Shot]], force: bool,
                   outcomes: list[ShotOutcome], total: int) -> None:
        futures = [pool.submit(self._produce_chain, chain, force) for chain in chains]
        try:
            for fut in as_completed(futures):
                for outcome in fut.result():
                    outcomes.append(outcome)
                    self.bus.emit("generate", "progress", f"{len(outcomes)}/{total} clips", total=total,
                                  completed=len(outcomes), progress=len(outcomes) / total)
        except BaseException:
            for f in futures:
                f.cancel()
            raise

    def _produce_chain(self, chain: list[Shot], force: bool) -> list[ShotOutcome]:
        return [self.produce_shot(s, force=force) for s in chain]

    # ---------------------------------------------------------------- cut and finish
    def cut(self) -> Path:
        """Each shot's part (its frames of the accepted clip, with speed, fades and overlays applied only
        where asked), then a stream-copy concat of the parts."""
        from .media import concat

        assert self.plan is not None
        t0 = time.perf_counter()
        self.state.status = "cutting"
        self.run.save_state(self.state)
        self.bus.emit("cut", "start", "stitching clips")
        parts: list[Path] = []
        joins: list[tuple[str, int]] = []
        for i, shot in enumerate(self.plan.shots):
            clip = self.accepted_clip(shot)
            if clip is None:
                raise AgentError(f"shot {shot.id} has no accepted clip yet; generate it first")
            overlap = self._overlap_available(shot, clip) if i + 1 < len(self.plan.shots) else 0
            if i + 1 < len(self.plan.shots):
                joins.append((shot.transition, overlap) if overlap else ("cut", 0))
            parts.append(self.shot_part(shot, clip, extra=overlap))
        self._seam_checks()
        cut_path = self.run.root / "cut.mp4"
        transitions = joins if any(k for _, k in joins) else None
        concat(parts, cut_path, self.spec, transitions=transitions,
               progress=lambda f: self.bus.emit("cut", "progress", progress=f))
        if self.plan.output_aspect:
            from .media import crop_to_aspect

            cropped = self.run.root / "cut-cropped.mp4"
            crop_to_aspect(cut_path, cropped, self.output_spec)
            cropped.replace(cut_path)
        self._step("cut", t0)
        self.bus.emit("cut", "done", f"{len(parts)} clips stitched", elapsed_s=time.perf_counter() - t0)
        return cut_path

    def _seam_checks(self) -> None:
        """Compare the frames across every cut that should be continuous; a jump is flagged in the
        report (the clips themselves passed their checks, so it is a warning, not a stop)."""
        from .context.seams import check_seams

        assert self.plan is not None
        if not any(s.continues for s in self.plan.shots):
            return
        clips = {s.id: c for s in self.plan.shots if (c := self.accepted_clip(s)) is not None}
        checks = check_seams(self.plan, clips, as_cut=True)
        for c in checks:
            if not c.passed:
                self.bus.emit("check", "warning", f"{c.name}: {c.detail}")
        self._seams = [c.model_dump(mode="json") for c in checks]

    @property
    def output_spec(self):
        """The delivered size: the plan's, or the crop an aspect edit asked for."""
        from .brief import ASPECTS
        from .media import VideoSpec

        assert self.plan is not None
        if not self.plan.output_aspect:
            return self.spec
        aw, ah = ASPECTS.get(self.plan.output_aspect, (4, 5) if self.plan.output_aspect == "4:5" else (16, 9))
        w, h = self.plan.width, self.plan.height
        if w * ah > h * aw:  # too wide: keep the height
            w = int(h * aw / ah) // 2 * 2
        else:
            h = int(w * ah / aw) // 2 * 2
        return VideoSpec(width=w, height=h, fps=self.plan.fps)

    def _overlap_available(self, shot: Shot, clip: Path) -> int:
        """The transition overlap this shot can give: what it wants, limited by its clip's spare frames."""
        from .media import probe

        if shot.transition == "cut" or shot.speed != 1:
            return 0
        spare = probe(clip).frames - shot.in_frame - shot.source_frames
        return max(0, min(self._overlap_wanted(shot), spare))

    def shot_part(self, shot: Shot, clip: Path, *, extra: int = 0) -> Path:
        """The shot's frames in the cut (plus `extra` frames a transition overlaps with the next shot),
        derived from its accepted clip deterministically and cached."""
        from .media import change_speed, fade, overlay_text, probe, trim

        assert self.plan is not None
        start = self.plan.shot_start(shot)
        end = start + self.plan.shot_duration(shot) + frames_to_seconds(extra, self.plan.fps)
        touching = [o for o in self.plan.overlays if o.start < end and o.end > start]
        have = probe(clip).frames
        plain = shot.in_frame == 0 and shot.source_frames + extra == have and shot.speed == 1
        if plain and not (shot.fade_in or shot.fade_out or touching):
            return clip
        key = clip_fingerprint({"clip": clip.name, "in": shot.in_frame, "frames": shot.frames, "speed": str(shot.speed),
                                "fade": [shot.fade_in, shot.fade_out], "offset": str(start), "extra": extra,
                                "overlays": [o.model_dump(mode="json") for o in touching]})
        out = self.run.clips_dir / f"{shot.id}-part-{key}.mp4"
        if out.is_file():
            return out
        work = clip
        tmp = [self.run.clips_dir / f".{shot.id}-{key}-{n}.mp4" for n in range(4)]
        if not plain:
            take = min(shot.source_frames + extra, have - shot.in_frame)
            trim(work, tmp[0], start_frame=shot.in_frame, frames=take, spec=self.spec)
            work = tmp[0]
            if shot.speed != 1:
                change_speed(work, tmp[1], shot.speed, self.spec)  # 1/2 = half speed, twice as long
                trim(tmp[1], tmp[2], start_frame=0, frames=shot.frames, spec=self.spec)
                work = tmp[2]
        if shot.fade_in or shot.fade_out:
            fade(work, tmp[3], self.spec, fade_in_frames=shot.fade_in, fade_out_frames=shot.fade_out)
            work = tmp[3]
        if touching:
            self.bus.emit("overlay", "start", ", ".join(repr(o.text) for o in touching), shot=shot.id)
            overlay_text(work, out, touching, self.spec, offset=start)
        else:
            work.replace(out)
        for t in tmp:
            t.unlink(missing_ok=True)
        return out

    def finish(self, cut_path: Path, output: Path | None) -> Delivery:
        """Verify the cut (exact length, clean decode, faststart) and deliver it atomically."""
        from .critique.technical import check_final

        assert self.plan is not None
        t0 = time.perf_counter()
        self.bus.emit("verify", "start", "verifying the final cut")
        verdict = check_final(cut_path, self.plan.target_frames, self.plan.fps)
        self._step("verify", t0)
        if not verdict.passed:
            self.bus.emit("verify", "failed", "; ".join(verdict.reasons))
            self._write_report(final_checks=verdict.model_dump(), status="failed")
            raise ReelwrightError(f"the final cut failed verification: {'; '.join(verdict.reasons)}")
        self.bus.emit("verify", "done", f"{float(self.plan.duration):.3f} s, decodes cleanly")
        cut_path.replace(self.run.final_path)
        delivered = self.run.final_path
        if output is not None:
            delivered = deliver_copy(self.run.final_path, output)
        self.state.status = "done"
        self.state.output = str(delivered)
        self.run.save_state(self.state)
        report = self._write_report(final_checks=verdict.model_dump(), status="done", output=str(delivered))
        self.bus.emit("deliver", "done", str(delivered), data={"duration_s": float(self.plan.duration)})
        return Delivery(delivered, self.run, self.plan, self.plan.duration, report)

    def run_all(self, output: Path | None) -> Delivery:
        """The fixed-order policy: plan (unless planned), generate, cut, verify, deliver."""
        self.bus.emit("run", "info", f"folder {self.run.root}; if it stops, continue with: reelwright resume {self.run.id}")
        try:
            if self.plan is None:
                self.make_plan()
            assert self.plan is not None
            est = self.plan.estimated_cost_usd
            if self.limits.max_spend_usd is not None and est > self.limits.max_spend_usd + 1e-9:
                self.bus.emit("plan", "warning", f"estimated ${est:.2f} exceeds the budget ${self.limits.max_spend_usd:.2f}; "
                              "generation will stop before crossing it")
            self.generate_all()
            cut = self.cut()
            return self.finish(cut, output)
        except BaseException as exc:
            self.state.status = "failed" if not isinstance(exc, KeyboardInterrupt) else "interrupted"
            self.run.save_state(self.state)
            self._write_report(status=self.state.status, error=str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
            raise

    # ---------------------------------------------------------------- report
    def _step(self, name: str, t0: float) -> None:
        self._steps.append({"step": name, "elapsed_s": round(time.perf_counter() - t0, 3)})

    def _write_report(self, **extra: Any) -> dict[str, Any]:
        plan = self.plan
        previous = self.run.load_report()
        shots = dict(previous.get("shots_by_id", {}))
        shots.update(self._shot_reports)
        llm_calls = []
        ledger = getattr(self.llm, "ledger", None)
        if ledger:
            llm_calls = [c.model_dump() if hasattr(c, "model_dump") else dict(c) for c in ledger]
        gen_cost = sum(rec.cost_usd for rec in self.state.accepted.values())
        llm_cost = sum(float(c.get("cost_usd", 0) or 0) for c in llm_calls)
        report: dict[str, Any] = {
            "run_id": self.run.id,
            "request": self.brief.request,
            "generator": self.brief.generator,
            "llm": self.brief.llm,
            "target_frames": plan.target_frames if plan else None,
            "fps": str(plan.fps) if plan else None,
            "duration_s": float(plan.duration) if plan else None,
            "shots": len(plan.shots) if plan else 0,
            "steps": previous.get("steps", []) + self._steps,
            "shots_by_id": shots,
            "costs": {"generation_usd": round(gen_cost, 4), "llm_usd": round(llm_cost, 4),
                      "spent_usd": round(self.state.spent_usd, 4), "total_usd": round(gen_cost + llm_cost, 4),
                      "estimated_usd": plan.estimated_cost_usd if plan else None},
            "llm_calls": llm_calls,
            "tokens": {"in": sum(int(c.get("tokens_in", 0) or 0) for c in llm_calls),
                       "out": sum(int(c.get("tokens_out", 0) or 0) for c in llm_calls)},
        }
        if getattr(self, "_seams", None):
            report["seams"] = self._seams
        report.update(extra)
        self._steps = []
        self.run.save_report(report)
        return report


def revise_prompt(prompt: str, reasons: list[str]) -> str:
    """Fold a critic's reasons into the next prompt, without the model: fix hints plus the reasons."""
    hints = []
    for reason in reasons:
        low = reason.lower()
        hint = next((h for key, h in _FIX_HINTS.items() if key in low), None)
        if hint and hint not in hints:
            hints.append(hint)
        elif not hint and ":" in reason and "duration" not in low:
            hints.append(reason.split(":", 1)[1].strip())
    base = prompt.split(" Make sure ", 1)[0]
    return f"{base} Make sure {'; '.join(hints)}." if hints else base


_SOFTEN = {"blood": "red paint", "gun": "prop", "kill": "defeat", "fight": "playful tussle", "weapon": "prop",
           "violent": "dramatic", "naked": "casually dressed", "attack": "approach"}


def soften_prompt(prompt: str) -> str:
    """A moderation rewrite without a model: swap words providers commonly flag, state the safe intent."""
    import re

    out = prompt
    for word, repl in _SOFTEN.items():
        out = re.sub(rf"\b{word}\b", repl, out, flags=re.IGNORECASE)
    prefix = "A family-friendly, safe scene: "
    return out if out.startswith(prefix) else prefix + out


def deliver_copy(src: Path, output: Path) -> Path:
    """Copy the final file to the user's output path through a temp name, then rename."""
    output = Path(output)
    if output.exists() and output.is_dir():
        raise InputFileError(f"output {output} is a folder; give a file name such as {output / 'video.mp4'}")
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        tmp = output.with_name(f".{output.name}.part")
        shutil.copyfile(src, tmp)
        tmp.replace(output)
    except OSError as exc:
        raise InputFileError(f"cannot write output {output}: {exc.strerror or exc}") from exc
    return output
