"""The agent's tools. The legacy fare table is deep-copied on every lookup: the standard library's copy
module does the work, called from this module's code, on the event loop."""

from __future__ import annotations

import asyncio
import copy
import time

LEGACY_FARES = {f"route-{i}": {"legs": [{"from": i, "to": i + 1, "fares": list(range(20))}]} for i in range(16000)}


def _legacy_fare_lookup(route: str, measured: list[float]) -> int:
    started = time.perf_counter()
    table = copy.deepcopy(LEGACY_FARES)  # a defensive copy: standard-library frames, this function's doing
    measured.append(time.perf_counter() - started)
    return len(table[route]["legs"])


async def search_fares(route: str, measured: list[float]) -> int:
    await asyncio.sleep(0.01)
    return _legacy_fare_lookup(route, measured)
