"""The typed tools an agent drives: plan shots, generate/regenerate/extend/check a clip, overlay text,
trim, concat, probe, finish. Each is a thin, validated call into the Director, so the fixed policy and
a chat model share one tool layer, one take loop (`director.takes`) and the same limits.

Errors the model can fix come back as `AgentError` subclasses (`ToolArgumentError`, `ClipRejectedError`);
a harness limit raises `LimitExceeded` and stops the run; anything else is a fault and propagates."""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .director import Delivery, Director, Limits
from .errors import ClipRejectedError, ToolArgumentError
from .plan import Overlay
from .timing import seconds_to_frames

__all__ = ["Limits", "ToolResult", "ToolSpec", "Toolbox", "short_args"]


class ToolSpec(BaseModel):
    name: str
    description: str
    parameters: dict[str, Any]


class ToolResult(BaseModel):
    ok: bool
    content: str  # short text for the model
    data: dict[str, Any] = Field(default_factory=dict)


class _Args(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PlanShotsArgs(_Args):
    notes: str = Field("", description="Optional guidance for the planner (ignored by the built-in planner).")


class ShotArgs(_Args):
    shot_id: str = Field(description="Shot id from the plan, e.g. 's03'.")


class GenerateArgs(ShotArgs):
    prompt: str | None = Field(None, description="Replace the shot's dense prompt before generating.")


class RegenerateArgs(ShotArgs):
    feedback: str = Field(description="What was wrong and what to change; folded into the prompt.")
    prompt: str | None = Field(None, description="A fully rewritten prompt (optional).")


class OverlayArgs(_Args):
    text: str = Field(description="Text to draw, exactly as it should read.")
    start_s: float = Field(description="Start time in seconds from the start of the video.")
    duration_s: float = Field(3.0, description="How long the text stays, in seconds.")
    position: Literal["center", "top", "bottom", "lower-third"] = "center"


class TrimArgs(ShotArgs):
    seconds: float = Field(description="New length of the shot in seconds; the next shot absorbs the difference so the total stays exact.")


class ProbeArgs(_Args):
    target: str = Field(description="A shot id (its accepted clip) or 'final' for the finished cut.")


class NoArgs(_Args):
    pass


class Toolbox:
    """Tools over one Director. `call` validates arguments and enforces the harness limits."""

    def __init__(self, director: Director, *, output: Path | None = None, limits: Limits | None = None):
        self.director = director
        self.output = output
        self.limits = limits or director.limits
        self.steps = 0
        self.delivery: Delivery | None = None
        self._cut: Path | None = None
        self._tools: dict[str, tuple[str, type[_Args], Callable[[Any], ToolResult]]] = {
            "plan_shots": ("Plan the video as shots (beats, durations, prompts). Call first.", PlanShotsArgs, self._plan_shots),
            "generate_clip": ("Generate one shot's clip and check it. Returns pass/fail with reasons.", GenerateArgs, self._generate),
            "regenerate_clip": ("Regenerate a failed or weak shot with feedback and a new seed.", RegenerateArgs, self._regenerate),
            "extend_clip": ("Make a shot continue from the previous shot's last frame (or native extension), then generate it.", ShotArgs, self._extend),
            "check_clip": ("Run the checks on a shot's accepted clip.", ShotArgs, self._check),
            "overlay_text": ("Draw text over the video at an exact time (deterministic, not generated).", OverlayArgs, self._overlay),
            "trim": ("Change a shot's length; the following shot absorbs the difference.", TrimArgs, self._trim),
            "concat": ("Stitch every accepted clip (with overlays) into the cut.", NoArgs, self._concat),
            "probe": ("Facts about a shot's clip or the final cut: duration, frames, size, codecs.", ProbeArgs, self._probe),
            "finish": ("Verify the cut (exact length, clean decode) and deliver it. Ends the job.", NoArgs, self._finish),
        }

    @property
    def specs(self) -> list[ToolSpec]:
        return [ToolSpec(name=n, description=d, parameters=m.model_json_schema()) for n, (d, m, _) in self._tools.items()]

    @property
    def finished(self) -> bool:
        return self.delivery is not None

    def takes_left(self, shot_id: str) -> int:
        """Takes the shot may still make (the take loop's budget; drivers plan regenerations by it)."""
        return self.director.takes_left(self._shot(shot_id))

    def call(self, name: str, arguments: dict[str, Any] | None = None) -> ToolResult:
        self.limits.check_steps(self.steps)
        self.steps += 1
        if name not in self._tools:
            raise ToolArgumentError(f"no tool {name!r}; tools: {', '.join(self._tools)}")
        _, model, fn = self._tools[name]
        try:
            args = model.model_validate(arguments or {})
        except ValidationError as exc:
            first = exc.errors()[0]
            raise ToolArgumentError(f"{name}: {'.'.join(map(str, first['loc'])) or 'arguments'}: {first['msg']}") from None
        self.director.bus.emit("tool", "info", f"{name}({short_args(arguments)})")
        return fn(args)

    # ---------------------------------------------------------------- tools
    def _need_plan(self):
        if self.director.plan is None:
            raise ToolArgumentError("no plan yet: call plan_shots first")
        return self.director.plan

    def _shot(self, shot_id: str):
        plan = self._need_plan()
        try:
            return plan.shot(shot_id)
        except KeyError:
            raise ToolArgumentError(f"no shot {shot_id!r}; shots are {', '.join(s.id for s in plan.shots)}") from None

    def _plan_shots(self, args: PlanShotsArgs) -> ToolResult:
        plan = self.director.plan or self.director.make_plan()
        lines = plan.summary_lines()
        return ToolResult(ok=True, content=f"{len(plan.shots)} shots, {float(plan.duration):.3f} s total:\n" + "\n".join(lines),
                          data={"shots": [s.id for s in plan.shots]})

    def _produce(self, shot, **kw) -> ToolResult:
        try:
            outcome = self.director.produce_shot(shot, **kw)
        except ClipRejectedError as exc:
            return ToolResult(ok=False, content=f"{shot.id} rejected: {exc}", data={"reasons": exc.reasons})
        self._cut = None
        state = "reused" if outcome.reused else f"accepted after {outcome.attempts} attempt(s)"
        return ToolResult(ok=True, content=f"{shot.id} {state}, cost ${outcome.cost_usd:.2f}",
                          data={"path": str(outcome.path), "attempts": outcome.attempts})

    def _generate(self, args: GenerateArgs) -> ToolResult:
        shot = self._shot(args.shot_id)
        if args.prompt:
            shot.prompt = args.prompt
            self.director.run.save_plan(self.director.plan)
        return self._produce(shot)

    def _regenerate(self, args: RegenerateArgs) -> ToolResult:
        shot = self._shot(args.shot_id)
        # The take loop's budget bounds regenerations: with no take left this stops the run (TakesExceeded).
        self.director.production.budget.check_take(shot.id)
        if args.prompt:
            shot.prompt = args.prompt
        shot.seed += 1
        self.director.run.save_plan(self.director.plan)
        return self._produce(shot, feedback=[args.feedback], force=True)

    def _extend(self, args: ShotArgs) -> ToolResult:
        shot = self._shot(args.shot_id)
        plan = self._need_plan()
        if self.director.job(shot).index == 0:
            raise ToolArgumentError("the first shot has nothing to continue from")
        shot.continues = True
        self.director.run.save_plan(plan)
        return self._produce(shot)

    def _check(self, args: ShotArgs) -> ToolResult:
        from .critique.technical import ClipExpectation, check_clip

        shot = self._shot(args.shot_id)
        plan = self._need_plan()
        clip = self.director.accepted_clip(shot)
        if clip is None:
            raise ToolArgumentError(f"{shot.id} has no accepted clip; call generate_clip first")
        verdict = check_clip(clip, ClipExpectation(frames=shot.frames, fps=plan.fps, width=plan.width, height=plan.height))
        return ToolResult(ok=verdict.passed, content=("passed" if verdict.passed else "failed: " + "; ".join(verdict.reasons)),
                          data={"checks": [c.name for c in verdict.checks if not c.passed]})

    def _overlay(self, args: OverlayArgs) -> ToolResult:
        plan = self._need_plan()
        start, dur = Fraction(repr(args.start_s)), Fraction(repr(args.duration_s))
        if not args.text.strip():
            raise ToolArgumentError("overlay text is empty")
        if start < 0 or dur <= 0 or start >= plan.duration:
            raise ToolArgumentError(f"overlay must start within 0–{float(plan.duration):.3f} s and last > 0 s")
        dur = min(dur, plan.duration - start)
        plan.overlays.append(Overlay(text=args.text, start=start, duration=dur, position=args.position))
        self.director.run.save_plan(plan)
        self._cut = None
        return ToolResult(ok=True, content=f"overlay {args.text!r} at {float(start):.3f}s for {float(dur):.3f}s")

    def _trim(self, args: TrimArgs) -> ToolResult:
        plan = self._need_plan()
        shot = self._shot(args.shot_id)
        i = self.director.job(shot).index
        if i + 1 >= len(plan.shots):
            raise ToolArgumentError("the last shot cannot be trimmed without changing the total; trim an earlier shot")
        nxt = plan.shots[i + 1]
        new = seconds_to_frames(Fraction(repr(args.seconds)), plan.fps)
        delta = new - shot.frames
        if new < 1 or nxt.frames - delta < 1:
            raise ToolArgumentError(f"{args.seconds} s leaves a shot with no frames")
        for s, frames in ((shot, new), (nxt, nxt.frames - delta)):
            cap = s.gen_duration * plan.fps if s.gen_duration else None
            if cap is not None and frames > cap:
                raise ToolArgumentError(f"{s.id} was generated as {float(s.gen_duration):g} s and cannot be longer")
        shot.frames, nxt.frames = new, nxt.frames - delta
        plan.relayout()
        self.director.run.save_plan(plan)
        self._cut = None
        return ToolResult(ok=True, content=f"{shot.id} is now {float(plan.shot_duration(shot)):.3f}s, {nxt.id} {float(plan.shot_duration(nxt)):.3f}s; regenerate or re-check before concat")

    def _concat(self, args: NoArgs) -> ToolResult:
        plan = self._need_plan()
        missing = [s.id for s in plan.shots if self.director.accepted_clip(s) is None]
        if missing:
            raise ToolArgumentError(f"shots without an accepted clip: {', '.join(missing)}")
        self._cut = self.director.cut()
        return ToolResult(ok=True, content=f"cut ready: {len(plan.shots)} clips, {float(plan.duration):.3f} s")

    def _probe(self, args: ProbeArgs) -> ToolResult:
        from .media import probe

        if args.target == "final":
            path = self._cut or (self.director.run.final_path if self.director.run.final_path.is_file() else None)
            if path is None:
                raise ToolArgumentError("no cut yet: call concat first")
        else:
            path = self.director.accepted_clip(self._shot(args.target))
            if path is None:
                raise ToolArgumentError(f"{args.target} has no accepted clip")
        i = probe(path)
        return ToolResult(ok=True, content=(f"{float(i.duration):.3f}s, {i.frames} frames @ {float(i.fps):g} fps, "
                                            f"{i.width}x{i.height} {i.vcodec}/{i.acodec or 'no audio'}"))

    def _finish(self, args: NoArgs) -> ToolResult:
        if self._cut is None or not self._cut.is_file():
            self._concat(NoArgs())
        assert self._cut is not None
        self.delivery = self.director.finish(self._cut, self.output)
        return ToolResult(ok=True, content=f"delivered {self.delivery.output} ({float(self.delivery.duration):.3f}s)")


def short_args(arguments: dict[str, Any] | None) -> str:
    text = ", ".join(f"{k}={v!r}" for k, v in (arguments or {}).items())
    return text if len(text) <= 80 else text[:77] + "..."
