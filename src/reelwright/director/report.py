"""report.json, written by one public call. Steps record what they did (`step`, `shot`); any step or
later stage adds its own part with `add_section(name, data)` — sound adds "audio", production adds
"provenance" — and `write(production, status=...)` merges it all with the previous report of the run
(resume and edits keep earlier steps and shots) and saves it."""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .production import Production


class Report:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._steps: list[dict[str, Any]] = []
        self._shots: dict[str, dict[str, Any]] = {}
        self._sections: dict[str, Any] = {}
        self._warnings: list[str] = []

    def step(self, name: str, t0: float) -> None:
        """Record a finished flow step and its wall time (t0 from time.perf_counter())."""
        with self._lock:
            self._steps.append({"step": name, "elapsed_s": round(time.perf_counter() - t0, 3)})

    def shot(self, shot_id: str, record: dict[str, Any]) -> None:
        with self._lock:
            self._shots[shot_id] = record

    def add_section(self, name: str, data: Any) -> None:
        """A named part of report.json owned by another step (e.g. "audio", "provenance", "seams", "agent")."""
        with self._lock:
            self._sections[name] = data

    @property
    def sections(self) -> dict[str, Any]:
        with self._lock:
            return dict(self._sections)

    def warn(self, text: str) -> None:
        """A visible problem that did not stop the run; listed under "warnings"."""
        with self._lock:
            if text not in self._warnings:
                self._warnings.append(text)

    def amend(self, p: Production) -> dict[str, Any]:
        """Fold the sections and warnings added since the last `write` into the saved report.json
        (for steps that run after delivery, such as the agent's summary), keeping everything else."""
        report = p.run.load_report()
        with self._lock:
            report.update(self._sections)
            if self._warnings:
                report["warnings"] = list(self._warnings)
        p.run.save_report(report)
        return report

    def write(self, p: Production, **fields: Any) -> dict[str, Any]:
        """Build report.json from the production plus the sections and `fields` (status, output, error…)."""
        plan = p.plan
        previous = p.run.load_report()
        shots = dict(previous.get("shots_by_id", {}))
        llm_calls = []
        ledger = getattr(p.llm, "ledger", None)  # chat models keep a ledger; the builtin planner has none
        if ledger:
            llm_calls = [c.model_dump() if hasattr(c, "model_dump") else dict(c) for c in ledger]
        gen_cost = sum(rec.cost_usd for rec in p.state.accepted.values())
        llm_cost = sum(float(c.get("cost_usd", 0) or 0) for c in llm_calls)
        with self._lock:
            shots.update(self._shots)
            report: dict[str, Any] = {
                "run_id": p.run.id,
                "request": p.brief.request,
                "generator": p.brief.generator,
                "llm": p.brief.llm,
                "target_frames": plan.target_frames if plan else None,
                "fps": str(plan.fps) if plan else None,
                "duration_s": float(plan.duration) if plan else None,
                "shots": len(plan.shots) if plan else 0,
                "steps": previous.get("steps", []) + self._steps,
                "shots_by_id": shots,
                "costs": {"generation_usd": round(gen_cost, 4), "llm_usd": round(llm_cost, 4),
                          "spent_usd": round(p.state.spent_usd, 4), "total_usd": round(gen_cost + llm_cost, 4),
                          "estimated_usd": plan.estimated_cost_usd if plan else None},
                "llm_calls": llm_calls,
                "tokens": {"in": sum(int(c.get("tokens_in", 0) or 0) for c in llm_calls),
                           "out": sum(int(c.get("tokens_out", 0) or 0) for c in llm_calls)},
            }
            report.update(self._sections)
            # the plan's own warnings (a chat model replaced by the built-in planner) travel with it, resume too
            report["warnings"] = list(dict.fromkeys([*(plan.warnings if plan else []), *self._warnings]))
            report.update(fields)
            self._steps = []
        p.run.save_report(report)
        return report
