"""The fare search tool every stream app shares, with its planted bottleneck.

``search_fares`` is an ``async def`` tool whose fare lookup goes through a synchronous client (pasted from a
script): each call holds the event loop while the client sleeps through its "request". The app's own
stopwatch times that synchronous part, which is exactly the loop holding the report must blame on the
tool; ``save_timings`` writes the total to the JSON file named by ``FARES_TIMINGS``.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from pathlib import Path

ROUTES = [
    f"{origin}-{destination}"
    for origin in ("LIS", "VIE", "KIX", "SFO", "GRU", "SYD")
    for destination in ("JFK", "LHR", "CDG", "FCO", "IST")
]
FARE_CLASSES = ["economy", "business"]
REQUEST_SECONDS = 0.05
_held: list[float] = []  # perf_counter seconds per synchronous lookup


def _legacy_fare_lookup(route: str) -> float:
    """The synchronous fare client: one blocking request per fare class."""
    fares = []
    for fare_class in FARE_CLASSES:
        time.sleep(REQUEST_SECONDS)
        fares.append(100.0 + len(route) * len(fare_class))
    return min(fares)


async def search_fares(route: str) -> float:
    """The cheapest fare on a route (async in name only: the client is synchronous)."""
    start = time.perf_counter()
    fare = _legacy_fare_lookup(route)
    _held.append(time.perf_counter() - start)
    return fare


async def check_all_fares() -> list[float]:
    """Every route in turn, letting the loop run for a moment between them, as the app's fare watcher does."""
    fares = []
    for route in ROUTES:
        fares.append(await search_fares(route))
        await asyncio.sleep(0.01)
    return fares


def save_timings() -> None:
    """Write how long the synchronous lookups held the loop, for the test to compare with the report."""
    figures = {"held_seconds": sum(_held), "calls": len(_held)}
    Path(os.environ["FARES_TIMINGS"]).write_text(json.dumps(figures), encoding="utf-8")
