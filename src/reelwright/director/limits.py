"""The harness limits, each defined once and checked by name before the thing it bounds happens
(in the manner of pydantic-ai's `UsageLimits.check_before_request`). Whoever drives (the fixed policy,
the built-in tool policy or a chat model) runs into the same checks; a failed check raises a
`LimitExceeded` subclass, which stops the run with its message."""

from __future__ import annotations

from fractions import Fraction

from pydantic import BaseModel

from ..brief import check_length
from ..errors import BudgetExceededError, StepsExceeded, TakesExceeded

SPEND_EPSILON = 1e-9  # float dust: a plan that costs exactly the budget is within it


class Limits(BaseModel):
    """Hard limits the harness enforces, whoever drives (fixed policy or a model)."""

    max_steps: int = 200
    max_retries_per_shot: int = 2
    max_spend_usd: float | None = None
    max_moderation_rewrites: int = 2

    @property
    def max_takes_per_shot(self) -> int:
        return 1 + self.max_retries_per_shot

    # ------------------------------------------------------------ the named checks
    def check_spend(self, committed_usd: float, next_usd: float, shot_id: str, spent_usd: float) -> None:
        """Before reserving a take: spent + reserved + this take must stay within the budget."""
        cap = self.max_spend_usd
        if cap is not None and committed_usd + next_usd > cap + SPEND_EPSILON:
            raise BudgetExceededError(
                f"shot {shot_id} would cost ${next_usd:.2f} and cross the budget of ${cap:.2f} "
                f"(spent ${spent_usd:.2f}); raise --budget or shorten the video")

    def check_steps(self, steps_taken: int) -> None:
        """Before a driver's next step (a tool call or a model turn)."""
        if steps_taken >= self.max_steps:
            raise StepsExceeded(f"max steps ({self.max_steps}) reached")

    def check_takes(self, shot_id: str, takes_made: int) -> None:
        """Before a shot's next take: at most 1 + max_retries_per_shot, whoever asks for them."""
        if takes_made >= self.max_takes_per_shot:
            raise TakesExceeded(f"shot {shot_id} used its {self.max_takes_per_shot} takes "
                                f"(1 + {self.max_retries_per_shot} retries); accept it, change the shot, or raise max_retries_per_shot")

    @staticmethod
    def check_length(seconds: Fraction | float, allow_long: bool) -> None:
        """Before planning or making: over an hour needs --allow-long (`brief.check_length`)."""
        check_length(seconds, allow_long)

    def over_budget_estimate(self, estimate_usd: float) -> bool:
        """Whether a plan's estimate already crosses the budget (a warning: generation stops before it does)."""
        return self.max_spend_usd is not None and estimate_usd > self.max_spend_usd + SPEND_EPSILON
