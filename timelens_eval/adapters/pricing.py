"""Token prices of API models, and the cost of one call.

Prices are US dollars per one million tokens, ``(input, output)``, standard tier
(no batch or cached-input discount). Source: the list prices published at
https://openai.com/api/pricing, as checked on 2025-08-15. Prices change; a run
records the cost it computed, so an old result keeps the price of its day. Models
not in the table (self-hosted servers, new models) get ``cost None``, never a guess;
pass ``price_input``/``price_output`` to the adapter to price them.
"""

from __future__ import annotations

import re
from typing import NamedTuple

__all__ = ["Price", "PRICES", "price_for", "cost_usd"]


class Price(NamedTuple):
    """USD per one million tokens."""

    input: float
    output: float


# Source: https://openai.com/api/pricing (checked 2025-08-15), USD per 1M tokens.
PRICES: dict[str, Price] = {
    "gpt-5": Price(1.25, 10.00),
    "gpt-5-mini": Price(0.25, 2.00),
    "gpt-5-nano": Price(0.05, 0.40),
    "gpt-4.1": Price(2.00, 8.00),
    "gpt-4.1-mini": Price(0.40, 1.60),
    "gpt-4.1-nano": Price(0.10, 0.40),
    "gpt-4o": Price(2.50, 10.00),
    "gpt-4o-mini": Price(0.15, 0.60),
    "gpt-4-turbo": Price(10.00, 30.00),
    "o3": Price(2.00, 8.00),
    "o4-mini": Price(1.10, 4.40),
}

# A dated snapshot ("gpt-4o-2024-08-06") costs what its family alias costs.
_SNAPSHOT = re.compile(r"-\d{4}-\d{2}-\d{2}$")


def price_for(model: str) -> Price | None:
    """The price of ``model`` (exact name or a dated snapshot of it), or None if unknown."""
    name = model.strip().lower()
    if name in PRICES:
        return PRICES[name]
    base = _SNAPSHOT.sub("", name)
    return PRICES.get(base)


def cost_usd(price: Price | None, input_tokens: int, output_tokens: int) -> float | None:
    """Cost of one call in USD: tokens times price; None when the price is unknown."""
    if price is None:
        return None
    return (input_tokens * price.input + output_tokens * price.output) / 1_000_000
