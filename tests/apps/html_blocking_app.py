"""An asyncio app for the HTML report's blocking view: ``html_blocking_app.py REQUESTS``.

Each request is an async agent, ``async_planner``, that awaits, then holds its event loop three ways: its own
code parses for 60 ms (``parse_slowly``: charged to the agent, at that function), a synchronous tool
``crunch`` sleeps 60 ms on the loop's thread (charged to the tool), and before the requests a task outside
any operation holds the loop 60 ms (``warm_cache``: code outside operations). Each block is well past the
20 ms threshold, so the loop monitor sees it however loaded the machine is.
"""

from __future__ import annotations

import asyncio
import sys
import time

import otel_agentperf as perf

HELD = 0.06  # seconds each block holds the loop


def parse_slowly() -> None:
    time.sleep(HELD)


@perf.tool
def crunch(item: int) -> int:
    time.sleep(HELD)
    return item


@perf.agent(name="async_planner")
async def planner(request: int) -> int:
    await asyncio.sleep(0.001)
    parse_slowly()
    await asyncio.sleep(0.001)
    return crunch(request)


async def warm_cache() -> None:
    time.sleep(HELD)


async def main(requests: int) -> None:
    await asyncio.create_task(warm_cache())
    for request in range(requests):
        await planner(request)


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
    print("served", flush=True)
