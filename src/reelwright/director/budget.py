"""The budget: money reserved before a take starts and settled when it ends, so concurrent takes can
never together cross `Limits.max_spend_usd` (the check itself is `Limits.check_spend`). The per-shot
take count lives here too: it is the other thing every take reserves."""

from __future__ import annotations

import threading
from collections import Counter

from ..runs.store import RunState
from .limits import Limits


class Budget:
    """Thread-safe spend and take accounting for one production."""

    def __init__(self, limits: Limits, state: RunState):
        self.limits = limits
        self.state = state  # spent_usd persists with the run, so resume keeps counting
        self.lock = threading.Lock()
        self.reserved_usd = 0.0
        self.takes: Counter[str] = Counter()  # takes made per shot in this process, whoever asked
        self._shot_locks: dict[str, threading.Lock] = {}

    def shot_lock(self, shot_id: str) -> threading.Lock:
        """One take loop per shot at a time: two drivers asking for the same shot at once must not
        submit it twice (the second finds the first's accepted clip)."""
        with self.lock:
            return self._shot_locks.setdefault(shot_id, threading.Lock())

    def reserve_take(self, shot_id: str, usd: float) -> None:
        """Check the take and spend limits, then hold the money until `settle`."""
        with self.lock:
            self.limits.check_takes(shot_id, self.takes[shot_id])
            self.limits.check_spend(self.state.spent_usd + self.reserved_usd, usd, shot_id, self.state.spent_usd)
            self.takes[shot_id] += 1
            self.reserved_usd += usd

    def refund_take(self, shot_id: str, reserved_usd: float) -> None:
        """A request the provider refused before making anything (moderation) is not a take."""
        with self.lock:
            self.takes[shot_id] -= 1
            self.reserved_usd -= reserved_usd

    def settle(self, reserved_usd: float, actual_usd: float) -> None:
        with self.lock:
            self.reserved_usd -= reserved_usd
            self.state.spent_usd += actual_usd

    def check_take(self, shot_id: str) -> None:
        """Raise TakesExceeded when the shot has no take left (before changing anything for one)."""
        with self.lock:
            self.limits.check_takes(shot_id, self.takes[shot_id])

    def takes_left(self, shot_id: str) -> int:
        with self.lock:
            return max(0, self.limits.max_takes_per_shot - self.takes[shot_id])
