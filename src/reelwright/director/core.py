"""The Director: one job's flow, as named steps over a shared `Production`:

    plan → generate (schedule → take loop per shot) → cut (assembly) → after-cut steps → verify → deliver

Each step is its own module: `job` (a shot's job, computed once), `request` (what a take asks of the
generator), `takes` (the take loop), `budget` and `limits` (the checks), `schedule` (chains, first
appearances, the pool), `assembly` (shot parts, seams, stitch), `verify` (final checks, delivery) and
`report` (report.json). The public methods here are the operations the tool layer (`tools.py`) exposes
to a driver; `run_all` is the fixed-order policy."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from ..brief import Brief, check_reference_files
from ..errors import BriefError
from ..events import EventBus, TraceWriter
from ..generators.base import ClipRequest, Generator
from ..generators.registry import get_generator
from ..plan import Plan, Shot
from ..runs.index import RunIndexer
from ..runs.store import RunDir
from . import assembly, schedule, takes
from .budget import Budget
from .job import ShotJob, accepted_clip, job_for
from .limits import Limits
from .production import Production
from .report import Report
from .request import request_for
from .verify import Delivery, verify_and_deliver

# A step between the cut and verification (sound: mix a score, normalise loudness). It gets the
# production and the cut's path and returns the path of its result, which must keep the cut's frames.
AfterCut = Callable[[Production, Path], Path]


class Director:
    """One job. Thread-safe where clips are produced concurrently."""

    def __init__(self, brief: Brief, *, run: RunDir, generator: Generator | None = None, llm: Any = None,
                 bus: EventBus | None = None, limits: Limits | None = None, judge: Any = None,
                 generator_options: dict[str, Any] | None = None, concurrency: int | None = None,
                 fallback: str | None = None, continues_from: Path | None = None,
                 after_cut: Sequence[AfterCut] = (), signer: Any = None, watermark: Any = None):
        if concurrency is not None and concurrency < 1:
            raise BriefError(f"concurrency must be at least 1, got {concurrency}")
        bus = bus or EventBus()
        bus.subscribe(TraceWriter(run.trace_path))
        generator = generator or get_generator(brief.generator, **(generator_options or {}))
        bus.subscribe(RunIndexer(run, generator=brief.generator, model=generator.model))  # the run store
        caps = generator.capabilities()
        limits = limits or Limits(max_spend_usd=brief.budget_usd)
        if limits.max_spend_usd is None and brief.budget_usd is not None:
            limits.max_spend_usd = brief.budget_usd
        state = run.load_state()
        self.production = Production(
            brief=brief, run=run, generator=generator, caps=caps, bus=bus, limits=limits, state=state,
            budget=Budget(limits, state), report=Report(), plan=run.load_plan(), llm=llm, judge=judge,
            continues_from=continues_from, signer=signer,
            # Clips made at once: the backend's own bound, or fewer when the person asks (rate limits, memory).
            concurrency=min(concurrency, caps.concurrency) if concurrency else caps.concurrency)
        self.fallback = fallback  # "builtin": plan on the built-in planner when the chat model fails
        self.after_cut: list[AfterCut] = list(after_cut)
        self.watermark = watermark  # a media.watermark.Watermark the plan carries from set_plan on

    # ---------------------------------------------------------------- the flow
    def run_all(self, output: Path | None) -> Delivery:
        """The fixed-order policy: plan (unless planned), generate, cut, after-cut steps, verify, deliver."""
        p = self.production
        where = f" (it delivers to {output})" if output is not None else ""
        p.bus.emit("run", "info", f"folder {p.run.root}; if it stops, continue with: "
                   f"reelwright resume {p.run.root}{where}")
        try:
            plan = self.plan or self.make_plan()
            if p.limits.over_budget_estimate(plan.estimated_cost_usd):
                p.bus.emit("plan", "warning", f"estimated ${plan.estimated_cost_usd:.2f} exceeds the budget "
                           f"${p.limits.max_spend_usd:.2f}; generation will stop before crossing it")
            self.generate_all()
            return self.finish(self.cut(), output)
        except BaseException as exc:
            self.fail(exc)
            raise

    def fail(self, exc: BaseException) -> None:
        """Record a stopped run: state and report say why (one line)."""
        p = self.production
        p.save_state("interrupted" if isinstance(exc, KeyboardInterrupt) else "failed")
        error = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        self.write_report(status=p.state.status, error=error)
        p.bus.emit("run", "failed", error, data={"status": p.state.status})

    # ---------------------------------------------------------------- planning
    def make_plan(self) -> Plan:
        """Plan the brief (built-in rules, or the chat model when one is configured)."""
        p = self.production
        t0 = time.perf_counter()
        p.bus.emit("plan", "start", "drafting prompts and structuring clips")
        if p.brief.references:
            check_reference_files(p.brief.references)
        if p.llm is not None:
            from ..planning.llm_planner import plan_with_llm

            plan = plan_with_llm(p.brief, p.caps, p.llm, bus=p.bus, fallback=self.fallback)
        else:
            from ..planning.builtin import build_plan

            plan = build_plan(p.brief, p.caps)
        self.set_plan(plan)
        p.report.step("plan", t0)
        p.bus.emit("plan", "done", f"{len(plan.shots)} shots, {float(plan.duration):.3f} s, "
                   f"estimated ${plan.estimated_cost_usd:.2f}",
                   data={"shots": len(plan.shots), "frames": plan.total_frames}, elapsed_s=time.perf_counter() - t0)
        return plan

    def set_plan(self, plan: Plan, *, save: bool = True) -> None:
        """Use `plan`; `save=False` keeps plan.json as it is (an edit switches it only when it commits)."""
        if plan.total_frames != plan.target_frames:
            raise BriefError(f"plan shots add up to {plan.total_frames} frames but the target is {plan.target_frames}")
        Limits.check_length(plan.duration, self.production.brief.allow_long)
        if self.watermark is not None and plan.watermark != self.watermark:
            plan = plan.model_copy(update={"watermark": self.watermark})
        self.production.plan = plan
        if save:
            self.production.run.save_plan(plan)
            self.production.save_state("planned")

    # ---------------------------------------------------------------- shots
    def job(self, shot: Shot) -> ShotJob:
        return job_for(self.production, shot)

    def produce_shot(self, shot: Shot, *, feedback: list[str] | None = None, force: bool = False) -> takes.ShotOutcome:
        """The take loop for one shot (see `takes.produce`)."""
        return takes.produce(self.production, self.job(shot), feedback=feedback, force=force)

    def generate_all(self, shot_ids: Iterable[str] | None = None, *, force: bool = False) -> list[takes.ShotOutcome]:
        return schedule.generate_all(self.production, lambda s, f: self.produce_shot(s, force=f), shot_ids, force=force)

    def accepted_clip(self, shot: Shot) -> Path | None:
        return accepted_clip(self.production, self.job(shot))

    def fingerprint(self, shot: Shot) -> str:
        return self.job(shot).fingerprint

    def gen_duration(self, shot: Shot):
        """Seconds asked of the generator for this shot (edits report what they regenerate)."""
        return self.job(shot).gen_duration

    def request_for(self, shot: Shot, *, attempt: int = 0, prompt: str | None = None) -> ClipRequest:
        return request_for(self.production, self.job(shot), attempt=attempt, prompt=prompt)

    def takes_left(self, shot: Shot) -> int:
        return self.production.budget.takes_left(shot.id)

    # ---------------------------------------------------------------- cut and finish
    def cut(self) -> Path:
        """The stitch (see `assembly.cut`), then each after-cut step in order (sound goes here), then the
        plan's watermark."""
        from ..provenance.steps import watermark_cut

        path = assembly.cut(self.production)
        for step in self.after_cut:
            path = step(self.production, path)
        return watermark_cut(self.production, path)  # last: a mark over the finished picture

    def shot_part(self, shot: Shot, clip: Path, *, extra: int = 0) -> Path:
        return assembly.shot_part(self.production, shot, clip, extra=extra)

    def finish(self, cut_path: Path, output: Path | None) -> Delivery:
        """Verify the cut (exact length, clean decode, faststart) and deliver it atomically."""
        return verify_and_deliver(self.production, cut_path, output)

    # ---------------------------------------------------------------- report
    @property
    def report(self) -> Report:
        """Add a part of report.json with `director.report.add_section(name, data)`."""
        return self.production.report

    def write_report(self, **fields: Any) -> dict[str, Any]:
        return self.production.report.write(self.production, **fields)

    # ---------------------------------------------------------------- the production's parts, by name
    plan = property(lambda self: self.production.plan,
                    lambda self, plan: setattr(self.production, "plan", plan))
    brief = property(lambda self: self.production.brief)
    run = property(lambda self: self.production.run)
    bus = property(lambda self: self.production.bus)
    limits = property(lambda self: self.production.limits)
    generator = property(lambda self: self.production.generator)
    caps = property(lambda self: self.production.caps)
    state = property(lambda self: self.production.state)
    llm = property(lambda self: self.production.llm)
    judge = property(lambda self: self.production.judge)
    concurrency = property(lambda self: self.production.concurrency)
    spec = property(lambda self: self.production.spec)
    output_spec = property(lambda self: self.production.output_spec)
    continues_from = property(lambda self: self.production.continues_from)
