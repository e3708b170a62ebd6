"""Pricing: a customer lookup, and the quote itself, which works through the discount tiers and lays out
the lines in short CPU steps, yielding to the loop between them to stay responsive."""

from __future__ import annotations

import asyncio

from appkit import Stopwatch

STEPS = 12
TIER_ROUNDS = 30_000  # a step's discount work: a few milliseconds of CPU, far below a block
LINES = 40
DISCOUNTS = Stopwatch()  # the app's own stopwatch around its discount work
PRICING = Stopwatch()  # and around the whole of the quote's CPU steps


def _discount_matrix(tier: int, rounds: int) -> int:
    total = 0
    for i in range(rounds):
        total = (total * 31 + i * tier) % 1_000_003
    return total


def _format_lines(items: list[str], factor: int) -> str:
    return "\n".join(f"{index:>3} {item:<24} {factor * (index + 1) / 100:>10.2f}" for index, item in enumerate(items))


async def lookup_customer(customer: str) -> dict[str, str]:
    await asyncio.sleep(0.01)  # the CRM answers over the network
    return {"customer": customer, "tier": str(len(customer) % 4 + 1)}


async def price_quote(items: list[str], tier: int) -> str:
    layout = ""
    for step in range(STEPS):
        with PRICING.timing():
            with DISCOUNTS.timing():
                factor = _discount_matrix(tier + step, TIER_ROUNDS)
            layout = _format_lines(items * (LINES // max(len(items), 1)), factor)
        await asyncio.sleep(0)
    return layout
