"""The price watch's tools."""

from __future__ import annotations


def normalise_prices(prices: list[str]) -> list[str]:
    return [price.strip().lower()[:80] for price in prices]
