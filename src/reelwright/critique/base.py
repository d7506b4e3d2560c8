"""A `Critic` checks a clip or a cut and returns a `Verdict`."""

from __future__ import annotations

from typing import Any, Protocol

from pydantic import BaseModel, Field


class Check(BaseModel):
    name: str
    passed: bool
    detail: str = ""
    value: Any = None


class Verdict(BaseModel):
    passed: bool
    checks: list[Check] = Field(default_factory=list)
    scores: dict[str, float] = Field(default_factory=dict)
    reasons: list[str] = Field(default_factory=list)  # why it failed, in words a prompt can use
    critic: str = "technical"

    @classmethod
    def from_checks(cls, checks: list[Check], critic: str = "technical") -> "Verdict":
        reasons = [f"{c.name}: {c.detail}" for c in checks if not c.passed]
        return cls(passed=not reasons, checks=checks, reasons=reasons, critic=critic)


class Critic(Protocol):
    name: str

    def judge_clip(self, path: Any, expectation: Any, context: dict[str, Any] | None = None) -> Verdict: ...
