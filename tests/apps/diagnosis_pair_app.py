"""An order desk whose versions plant one diagnosis each, for ``compare``'s diagnosis lines:
``diagnosis_pair_app.py VERSION REQUESTS``.

Each request, its agent looks the order up and asks two carriers for its status (each lookup 20 ms, each
status 30 ms of awaiting). ``v1`` asks both carriers at once and looks the order up once; ``repeats`` looks
it up a second time with the same argument, beside the carriers (it costs no latency, only the call);
``sequential`` asks the carriers one after the other. The app prints what its planted code cost per request,
by its own stopwatch, as ``planted <seconds>``: the repeated call's time, or the time asking one carrier
after the other took beyond asking both at once (their sum less the longest).
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Awaitable

import otel_agentperf as perf

LOOKUP_S, STATUS_S = 0.02, 0.03
CARRIERS = ("north", "south")


async def _timed(call: Awaitable[object]) -> float:
    began = time.perf_counter()
    await call
    return time.perf_counter() - began


@perf.tool
async def lookup_order(order: str) -> str:
    await asyncio.sleep(LOOKUP_S)
    return f"order {order}"


@perf.tool
async def carrier_status(carrier: str, order: str) -> str:
    await asyncio.sleep(STATUS_S)
    return f"{carrier}: {order} in transit"


@perf.agent
async def order_desk(order: str, version: str) -> float:
    """The request; returns what the planted code cost it."""
    planted = 0.0
    await lookup_order(order)
    if version == "repeats":
        planted, *_ = await asyncio.gather(_timed(lookup_order(order)), *(carrier_status(c, order) for c in CARRIERS))
    elif version == "sequential":
        took = [await _timed(carrier_status(carrier, order)) for carrier in CARRIERS]
        planted = sum(took) - max(took)  # beyond what asking both at once takes: the longest alone
    else:
        await asyncio.gather(*(carrier_status(carrier, order) for carrier in CARRIERS))
    return planted


async def main(version: str, requests: int) -> None:
    planted = [await order_desk(f"A{number}", version) for number in range(requests)]
    print(f"planted {sum(planted) / requests:.6f}", flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2])))
