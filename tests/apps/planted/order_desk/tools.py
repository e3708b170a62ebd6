"""The order desk's tools: the order service's API, and a couple of local helpers."""

from __future__ import annotations

import asyncio
import time

REPEAT_SECONDS: list[float] = []  # stopwatch time of lookups this request had already made
_asked: set[tuple[int, str]] = set()


async def lookup_order(request: int, order_id: str) -> dict[str, str]:
    start = time.perf_counter()
    await asyncio.sleep(0.06)  # the order service's API
    if (request, order_id) in _asked:
        REPEAT_SECONDS.append(time.perf_counter() - start)
    _asked.add((request, order_id))
    return {"order": order_id, "status": "shipped"}


async def carrier_status(tracking: str) -> str:
    await asyncio.sleep(0.01)
    return f"{tracking}: in transit"


def format_reply(parts: list[str]) -> str:
    return "\n".join(parts)
