"""What the planted apps' main scripts share, the way a team shares a small utilities module.

``Stopwatch`` is the app's own hand-written timer (perf_counter around the code it cares about); ``serve``
runs the app's requests with a given number in flight, writes what the stopwatches measured as JSON,
prints ``ready`` and stays alive (serving the launcher's /metrics endpoint) until stdin closes.

``python -m <app>.main --requests N --concurrency C --measure out.json`` (``APP_CONCURRENCY`` also sets C).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


class Stopwatch:
    """Seconds spent in one piece of code, one entry per timed run."""

    def __init__(self) -> None:
        self.runs: list[float] = []

    @contextmanager
    def timing(self) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.runs.append(time.perf_counter() - start)

    def add(self, seconds: float) -> None:
        self.runs.append(seconds)

    @property
    def total(self) -> float:
        return sum(self.runs)


def serve(
    handle: Callable[[int], Awaitable[Any]],
    measured: Callable[[], dict[str, float]],
    setup: Callable[[], Awaitable[Any]] | None = None,
) -> None:
    """Run ``handle(0..N-1)`` with C in flight, write ``measured()`` to ``--measure``, then linger."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=16)
    parser.add_argument("--concurrency", type=int, default=int(os.environ.get("APP_CONCURRENCY", "1")))
    parser.add_argument("--measure", type=Path, help="where to write the app's own timings (JSON)")
    parser.add_argument("--no-linger", action="store_true", help="exit after the work")
    args = parser.parse_args()

    async def run_all() -> None:
        if setup is not None:
            await setup()
        gate = asyncio.Semaphore(args.concurrency)

        async def one(index: int) -> None:
            async with gate:
                await handle(index)

        await asyncio.gather(*(one(index) for index in range(args.requests)))

    started = time.perf_counter()
    asyncio.run(run_all())
    figures = {**measured(), "wall_seconds": time.perf_counter() - started}
    if args.measure is not None:
        args.measure.write_text(json.dumps(figures), encoding="utf-8")
    print(f"handled {args.requests} requests, {args.concurrency} in flight", flush=True)
    print("ready", flush=True)
    if not args.no_linger:
        sys.stdin.read()
