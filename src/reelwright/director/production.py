"""The production: what one job is made of and shares between its steps — the brief, the plan, the run
folder and its state, the generator and its capabilities, the event bus, the limits and the budget, the
optional chat model and judge, the report being written. Steps (`job`, `takes`, `schedule`, `assembly`,
`verify`) read and update it; nothing outside the Director reaches into it by private name."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..brief import Brief
from ..events import EventBus
from ..generators.base import Capabilities, Generator
from ..plan import Plan
from ..runs.store import RunDir, RunState
from .budget import Budget
from .limits import Limits
from .report import Report


@dataclass
class Production:
    brief: Brief
    run: RunDir
    generator: Generator
    caps: Capabilities
    bus: EventBus
    limits: Limits
    state: RunState
    budget: Budget
    report: Report
    plan: Plan | None = None
    llm: Any = None
    judge: Any = None
    continues_from: Path | None = None  # a video this run continues (extend): the first shot picks up from it
    concurrency: int = 1
    signer: Any = None  # a provenance.SigningIdentity: the delivered file gets a signed C2PA manifest
    frame_counts: dict[Path, int] = field(default_factory=dict)  # accepted clips never change: probe each once
    # An edit's production is staged: state.json keeps the committed run's status and cut_clips (accepted
    # clips and jobs are still recorded as they come) until the edit's transaction switches plan, state and
    # video together; the cut's clips wait in `cut_used`.
    staged: bool = False
    cut_used: dict[str, str] = field(default_factory=dict)  # shot id -> fingerprint, of the latest cut

    def need_plan(self) -> Plan:
        assert self.plan is not None, "plan first"
        return self.plan

    @property
    def style(self) -> str:
        from ..planning.styles import style_for_generator

        return style_for_generator(self.brief.generator.split(":")[0], self.generator.model)

    @property
    def spec(self):
        from ..media import VideoSpec

        plan = self.need_plan()
        return VideoSpec(width=plan.width, height=plan.height, fps=plan.fps)

    @property
    def output_spec(self):
        """The delivered size: the plan's, or the crop an aspect edit asked for."""
        from ..brief import ASPECTS
        from ..media import VideoSpec

        plan = self.need_plan()
        if not plan.output_aspect:
            return self.spec
        aw, ah = ASPECTS.get(plan.output_aspect, (4, 5) if plan.output_aspect == "4:5" else (16, 9))
        w, h = plan.width, plan.height
        if w * ah > h * aw:  # too wide: keep the height
            w = int(h * aw / ah) // 2 * 2
        else:
            h = int(w * ah / aw) // 2 * 2
        return VideoSpec(width=w, height=h, fps=plan.fps)

    def save_state(self, status: str | None = None) -> None:
        if status is not None and not self.staged:
            self.state.status = status
        self.run.save_state(self.state)
