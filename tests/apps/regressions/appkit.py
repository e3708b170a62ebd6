"""What the regression apps' main scripts share, the way a team shares a small utilities module.

Each request is timed with ``perf_counter`` from when it gets a slot (one of ``--concurrency``) to its end:
its latency, not its time in the queue. The code a case is about charges what it cost to the request it
ran in (``charge``, ``timing``): seconds, tokens and dollars, the app's own bookkeeping, kept in both
versions so that the test reads the planted regression's own cost as v2's charge less v1's.

``python -m <app>.main --requests N --concurrency C --measure out.json [--go-on-stdin]``; the JSON holds one
object per request: ``wall_seconds``, ``seconds``, ``input_tokens``, ``output_tokens``, ``usd`` (the
charges). After its readiness check the app prints ``ready``; with ``--go-on-stdin`` it then waits for a
line on stdin before taking requests, so a harness can start the requests of two apps at one moment,
after every other app it started has finished importing (seconds of CPU that would slow the requests).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any


@dataclass
class Charged:
    """What one request's watched code cost it."""

    wall_seconds: float = 0.0
    seconds: float = 0.0
    input_tokens: int = 0
    output_tokens: int = 0
    usd: float = 0.0


_request: ContextVar[Charged | None] = ContextVar("request", default=None)


def charge(seconds: float = 0.0, input_tokens: int = 0, output_tokens: int = 0, usd: float = 0.0) -> None:
    """Add to the current request's bill (nothing outside a request: the readiness check is free)."""
    current = _request.get()
    if current is not None:
        current.seconds += seconds
        current.input_tokens += input_tokens
        current.output_tokens += output_tokens
        current.usd += usd


@contextmanager
def timing() -> Iterator[None]:
    """Charge the seconds spent in the block to the current request."""
    start = time.perf_counter()
    try:
        yield
    finally:
        charge(seconds=time.perf_counter() - start)


def charge_usage(usage: Any, prices: tuple[float, float]) -> None:
    """Charge an SDK answer's usage (OpenAI's ``prompt_tokens`` or Anthropic's ``input_tokens``) at
    ``prices`` (US dollars per million input and output tokens)."""
    tokens_in = int(getattr(usage, "prompt_tokens", None) or getattr(usage, "input_tokens", 0) or 0)
    tokens_out = int(getattr(usage, "completion_tokens", None) or getattr(usage, "output_tokens", 0) or 0)
    usd = (tokens_in * prices[0] + tokens_out * prices[1]) / 1e6
    charge(input_tokens=tokens_in, output_tokens=tokens_out, usd=usd)


def serve(handle: Callable[[int], Awaitable[Any]], setup: Callable[[], Awaitable[Any]] | None = None) -> None:
    """Run ``handle(0..N-1)`` with C in flight and write each request's latency and charges to ``--measure``."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=8)
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--measure", type=Path, required=True, help="where to write the app's own timings (JSON)")
    parser.add_argument(
        "--go-on-stdin",
        action="store_true",
        help="when ready, wait for a line on stdin; when done, for its end before exiting",
    )
    args = parser.parse_args()
    bills = [Charged() for _ in range(args.requests)]

    async def run_all() -> None:
        if setup is not None:
            await setup()
        print("ready", flush=True)
        if args.go_on_stdin:
            await asyncio.to_thread(sys.stdin.readline)  # in a thread: the loop is not held while it waits
        gate = asyncio.Semaphore(args.concurrency)

        async def one(index: int) -> None:
            async with gate:
                _request.set(bills[index])  # this task's own context: the request's bill
                start = time.perf_counter()
                await handle(index)
                bills[index].wall_seconds = time.perf_counter() - start

        await asyncio.gather(*(one(index) for index in range(args.requests)))

    asyncio.run(run_all())
    args.measure.write_text(json.dumps([asdict(bill) for bill in bills]), encoding="utf-8")
    print(f"handled {args.requests} requests, {args.concurrency} in flight", flush=True)
    if args.go_on_stdin:
        sys.stdin.read()  # what follows the exit (the last export, the run's report) is off the other's clock
