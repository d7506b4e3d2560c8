"""What chat models cost, in USD per million tokens in and out: one dated table, overridable.

Entries are matched by the longest model-name prefix ending at a "-", so dated snapshots
("claude-sonnet-4-5-20250929") find their family; a model not in the table costs 0 and is
recorded as unpriced. A JSON file named by `REELWRIGHT_LLM_PRICES`
replaces entries:

    {"date": "2026-12", "prices": {"gpt-4.1": [2.0, 8.0], "my-local-model": [0, 0]}}
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ConfigError
from ..runs.files import read_bounded

PRICE_DATE = "2026-11"
ENV_VAR = "REELWRIGHT_LLM_PRICES"

# model-name prefix -> (USD per 1M input tokens, USD per 1M output tokens), list prices (?) = unverified.
PRICES: dict[str, tuple[float, float]] = {
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-4o": (2.50, 10.00),
    "gpt-4.1-nano": (0.10, 0.40),
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1": (2.00, 8.00),
    "gpt-5-nano": (0.05, 0.40),
    "gpt-5-mini": (0.25, 2.00),
    "gpt-5": (1.25, 10.00),
    "o4-mini": (1.10, 4.40),
    "o3": (2.00, 8.00),
    "grok-4-fast": (0.20, 0.50),
    "grok-4": (3.00, 15.00),
    "grok-3-mini": (0.30, 0.50),
    "grok-3": (3.00, 15.00),
    "claude-opus-4": (15.00, 75.00),
    "claude-opus-4-5": (5.00, 25.00),
    "claude-opus-4-6": (5.00, 25.00),
    "claude-sonnet-4": (3.00, 15.00),
    "claude-haiku-4": (1.00, 5.00),
    "claude-3-5-haiku": (0.80, 4.00),
    "claude-3-7-sonnet": (3.00, 15.00),
}


@dataclass
class PriceTable:
    prices: dict[str, tuple[float, float]] = field(default_factory=lambda: dict(PRICES))
    date: str = PRICE_DATE

    def lookup(self, model: str) -> tuple[float, float] | None:
        name = model.lower().rsplit("/", 1)[-1]  # "openai/gpt-4o" on OpenRouter prices as gpt-4o
        best = max((p for p in self.prices if _family(name, p.lower())), key=len, default=None)
        return self.prices[best] if best is not None else None

    def knows(self, model: str) -> bool:
        return self.lookup(model) is not None

    def cost(self, model: str, tokens_in: int, tokens_out: int) -> float:
        """USD for one call; 0.0 for a model not in the table."""
        price = self.lookup(model)
        if price is None:
            return 0.0
        return round((tokens_in * price[0] + tokens_out * price[1]) / 1_000_000, 8)

    def with_overrides(self, prices: dict[str, tuple[float, float]], date: str | None = None) -> "PriceTable":
        merged = dict(self.prices)
        merged.update({k: (float(v[0]), float(v[1])) for k, v in prices.items()})
        return PriceTable(merged, date or self.date)


def _family(name: str, prefix: str) -> bool:
    # "gpt-4o" prices "gpt-4o-2024-08-06" but not "gpt-4o1"; "gpt-5" does not price "gpt-5.4".
    return name == prefix or (name.startswith(prefix) and name[len(prefix)] == "-")


def default_prices() -> PriceTable:
    """The built-in table, updated from the file named by REELWRIGHT_LLM_PRICES when set."""
    table = PriceTable()
    path_text = os.environ.get(ENV_VAR, "").strip()
    if not path_text:
        return table
    path = Path(path_text).expanduser()
    try:
        data = json.loads(read_bounded(path, ENV_VAR))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{ENV_VAR}={path_text!r} is not a readable JSON file: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("prices"), dict):
        raise ConfigError(f"{ENV_VAR}={path_text!r}: expected {{\"date\": ..., \"prices\": {{model: [in, out]}}}}")
    overrides: dict[str, tuple[float, float]] = {}
    for model, pair in data["prices"].items():
        try:
            p_in, p_out = float(pair[0]), float(pair[1])
        except (TypeError, ValueError, IndexError, KeyError) as exc:
            raise ConfigError(f"{ENV_VAR}={path_text!r}: bad price for {model!r}: {pair!r}") from exc
        if p_in < 0 or p_out < 0:
            raise ConfigError(f"{ENV_VAR}={path_text!r}: negative price for {model!r}")
        overrides[model] = (p_in, p_out)
    return table.with_overrides(overrides, str(data.get("date", PRICE_DATE)))
