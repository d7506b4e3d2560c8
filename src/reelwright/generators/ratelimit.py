"""A thread-safe token bucket that keeps an adapter's API calls under a provider's request rate
(one per generator, or one shared by several generators on the same key)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

# Float refills can land a hair under a whole token; waiting for that hair could spin forever.
_TOKEN_EPSILON = 1e-9


class RateLimiter:
    """A thread-safe token bucket: `rate_per_s` tokens a second, at most `burst` saved up."""

    def __init__(self, rate_per_s: float, burst: int = 1, *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep):
        if rate_per_s <= 0 or burst < 1:
            raise ValueError(f"rate_per_s must be > 0 and burst >= 1, got {rate_per_s!r}, {burst!r}")
        self.rate = float(rate_per_s)
        self.burst = int(burst)
        self._clock = clock
        self._sleep = sleep
        self._tokens = float(burst)
        self._stamp = clock()
        self._lock = threading.Lock()

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now

    def try_acquire(self) -> bool:
        """Take a token if one is there; never waits."""
        with self._lock:
            self._refill()
            if self._tokens >= 1 - _TOKEN_EPSILON:
                self._tokens = max(0.0, self._tokens - 1)
                return True
            return False

    def acquire(self) -> float:
        """Take a token, waiting as long as needed; returns the seconds waited."""
        waited = 0.0
        while True:
            with self._lock:
                self._refill()
                if self._tokens >= 1 - _TOKEN_EPSILON:
                    self._tokens = max(0.0, self._tokens - 1)
                    return waited
                wait = (1 - self._tokens) / self.rate
            self._sleep(wait)
            waited += wait
