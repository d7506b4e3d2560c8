"""Typed options for generator backends: each backend declares a pydantic `Options` model with
`extra="forbid"`, so a misspelt option stops with one line naming the valid ones instead of passing silently.

Options reach a backend as keyword arguments (`get_generator(spec, **options)`, the API's
`generator_options=`); `Generator.__init__` parses them into `self.opts` through `Options.parse`.
`GeneratorOptions` is the base (no options at all); `JobOptions` adds what every hosted
submit → poll → download backend shares: polling, deadline, retries, rate limit, concurrency, and the
`sleep`/`clock` seams tests use.
"""

from __future__ import annotations

import difflib
import time
from collections.abc import Callable, Mapping
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field, InstanceOf, ValidationError

from ..errors import ConfigError
from .ratelimit import RateLimiter
from .retry import RetryPolicy


class GeneratorOptions(BaseModel):
    """A backend's options. Subclass per backend; every field has a default, so no option is required."""

    # arbitrary types: some options are objects (a shared RateLimiter, an uploader function, credentials).
    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    @classmethod
    def parse(cls, backend: str, options: Mapping[str, Any]) -> Self:
        """`options` validated; ConfigError (one line) naming the bad option and the valid ones."""
        try:
            return cls(**dict(options))
        except ValidationError as exc:
            raise ConfigError(option_error(backend, cls, exc)) from None

    @classmethod
    def names(cls) -> list[str]:
        return sorted(cls.model_fields)


def option_error(backend: str, model: type[BaseModel], exc: ValidationError) -> str:
    """One line for the first problem: an unknown name lists the valid ones (closest first when it looks
    like a typo); a bad value says what was expected."""
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "options"
    valid = sorted(model.model_fields)
    if first["type"] == "extra_forbidden":
        name = str(first["loc"][0])
        if not valid:
            return f"{backend} takes no options, got {name!r}"
        close = difflib.get_close_matches(name, valid, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        return f"unknown {backend} option {name!r}{hint}; valid options: {', '.join(valid)}"
    return f"{backend} option {where}: {first['msg']}"


class JobOptions(GeneratorOptions):
    """What every hosted backend (submit → poll → download) reads."""

    poll_interval: float = Field(2.0, ge=0)  # seconds between polls when the server gives no hint
    deadline_s: float = Field(900, gt=0)  # give up on a job after this long
    retry: InstanceOf[RetryPolicy] = Field(default_factory=RetryPolicy)
    rate_per_s: float | None = Field(None, gt=0)  # API calls a second (token bucket)
    rate_burst: int = Field(1, ge=1)
    limiter: InstanceOf[RateLimiter] | None = None  # shared by generators on one key; wins over rate_per_s
    concurrency: int = Field(2, ge=1)  # clips made at once
    sleep: Callable[[float], None] = time.sleep  # tests pass a fake clock's sleep
    clock: Callable[[], float] = time.monotonic

    def make_limiter(self) -> RateLimiter | None:
        """The shared `limiter`, else one built from `rate_per_s` / `rate_burst`, else None."""
        if self.limiter is not None:
            return self.limiter
        return RateLimiter(self.rate_per_s, self.rate_burst) if self.rate_per_s else None
