"""Retries and polling for remote video APIs: which HTTP statuses are worth retrying, the server's
Retry-After, exponential backoff with jitter, and a poll loop with a deadline.

- `call_with_retries` retries only `TransientGeneratorError` (408/409/429/5xx, connection
  trouble); `ModerationError` and other client errors go straight back to the caller.
  `call_mapped` applies an adapter's SDK error mapping to a single call.
- `poll_until` honours a server poll hint (Retry-After) and stops at a deadline.
"""

from __future__ import annotations

import email.utils
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar

import httpx

from ..errors import ConfigError, GeneratorError, ModerationError, ReelwrightError, TransientGeneratorError

T = TypeVar("T")
S = TypeVar("S")

RETRYABLE_STATUSES = frozenset({408, 409, 429})


def is_retryable_status(code: int) -> bool:
    """408, 409, 429 and every 5xx are worth retrying; nothing else is."""
    return code in RETRYABLE_STATUSES or 500 <= code <= 599


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds from a Retry-After (or retry-after-ms) value: delta-seconds or an HTTP date."""
    if value is None:
        return None
    text = str(value).strip()
    if not text:
        return None
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def retry_after_from_headers(headers: Mapping[str, str] | None) -> float | None:
    """Retry-After from response headers; `retry-after-ms` wins when both are present."""
    if not headers:
        return None
    lower = {k.lower(): v for k, v in headers.items()}
    ms = lower.get("retry-after-ms")
    if ms is not None:
        try:
            return max(0.0, float(ms) / 1000.0)
        except ValueError:
            pass
    return parse_retry_after(lower.get("retry-after"))


def error_for_status(status: int, message: str, *, retry_after: float | None = None,
                     provider: str = "", key_env: str = "") -> ReelwrightError:
    """The error a non-2xx API response maps to (returned, so callers `raise ... from`). 401/403 is the
    person's key: a ConfigError naming its variable, never retried (another take would fail the same)."""
    prefix = f"{provider}: " if provider else ""
    text = f"{prefix}HTTP {status}: {message}".rstrip(": ")
    if status in (401, 403) and key_env:
        return ConfigError(f"{provider or 'the provider'} rejected the key in {key_env} (HTTP {status}): {message}")
    if is_retryable_status(status):
        return TransientGeneratorError(text, retry_after=retry_after)
    return GeneratorError(text)


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter; a server's Retry-After wins, capped."""

    max_attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 20.0
    max_retry_after: float = 60.0

    def delay(self, attempt: int, retry_after: float | None = None, *, rng: random.Random | None = None) -> float:
        """Seconds to wait after failed attempt number `attempt` (1-based)."""
        if retry_after is not None:
            return min(max(0.0, retry_after), self.max_retry_after)
        ceiling = min(self.max_delay, self.base_delay * (2 ** (attempt - 1)))
        # Half fixed, half jitter: spreads clients apart without ever waiting ~0.
        return ceiling / 2 + (rng or random).uniform(0, ceiling / 2)


def _as_transient(exc: BaseException) -> TransientGeneratorError | None:
    if isinstance(exc, ModerationError):
        return None
    if isinstance(exc, TransientGeneratorError):
        return exc
    if isinstance(exc, httpx.HTTPStatusError):
        status = exc.response.status_code
        if is_retryable_status(status):
            return TransientGeneratorError(f"HTTP {status}", retry_after=retry_after_from_headers(exc.response.headers))
        return None
    if isinstance(exc, (httpx.TransportError, ConnectionError, TimeoutError)):
        return TransientGeneratorError(f"connection trouble: {type(exc).__name__}")
    return None


def call_with_retries(
    fn: Callable[[], T],
    *,
    policy: RetryPolicy = RetryPolicy(),
    sleep: Callable[[float], None] = time.sleep,
    on_retry: Callable[[int, BaseException, float], None] | None = None,
    map_error: Callable[[BaseException], BaseException | None] | None = None,
) -> T:
    """Run `fn`, retrying transient failures up to `policy.max_attempts` times in all.

    Retried: `TransientGeneratorError`, httpx transport errors and 408/409/429/5xx
    `httpx.HTTPStatusError`. `map_error(exc)` lets an adapter translate its SDK's errors
    first (return a reelwright error, or None to keep `exc`). `on_retry(attempt, error,
    delay)` is called before each sleep. After the last attempt the error is raised."""
    attempt = 0
    while True:
        attempt += 1
        try:
            return fn()
        except Exception as exc:  # noqa: BLE001 - classified below, re-raised if not retryable
            mapped = map_error(exc) if map_error is not None else None
            error = mapped if mapped is not None else exc
            transient = _as_transient(error)
            if transient is None or attempt >= policy.max_attempts:
                if error is exc:
                    raise
                raise error from exc
            wait = policy.delay(attempt, transient.retry_after)
            if on_retry is not None:
                on_retry(attempt, transient, wait)
            sleep(wait)


def call_mapped(fn: Callable[[], T], map_error: Callable[[BaseException], BaseException | None]) -> T:
    """Run `fn` once; an error it raises goes out as `map_error(exc)` (raised from `exc`), or as
    itself when `map_error` returns None. For SDK calls made outside `call_with_retries`."""
    try:
        return fn()
    except Exception as exc:  # noqa: BLE001 - mapped to the error tree
        mapped = map_error(exc)
        if mapped is None:
            raise
        raise mapped from exc


def poll_until(
    fetch: Callable[[], S],
    *,
    is_done: Callable[[S], bool],
    interval: float = 2.0,
    deadline_s: float = 900,
    sleep: Callable[[float], None] = time.sleep,
    progress: Callable[[S], None] | None = None,
    hint: Callable[[S], float | None] = lambda state: None,
    clock: Callable[[], float] = time.monotonic,
    retry: RetryPolicy | None = None,
    what: str = "generation job",
) -> S:
    """Call `fetch()` until `is_done(state)`; return that state.

    Between polls waits `hint(state)` seconds when the server gave one (a Retry-After on
    the poll response), else `interval`, never past the deadline. `progress(state)` sees
    every unfinished state. With `retry`, each fetch is retried on transient errors.
    Raises `GeneratorError("<what> timed out after N s")` once `deadline_s` has passed."""
    start = clock()
    while True:
        if retry is not None:
            state = call_with_retries(fetch, policy=retry, sleep=sleep)
        else:
            state = fetch()
        if is_done(state):
            return state
        if progress is not None:
            progress(state)
        elapsed = clock() - start
        if elapsed >= deadline_s:
            raise GeneratorError(f"{what} timed out after {deadline_s:g} s")
        wait = hint(state)
        wait = interval if wait is None else max(0.0, float(wait))
        sleep(min(wait, max(0.0, deadline_s - elapsed)))
