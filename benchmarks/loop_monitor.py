"""What the loop monitor costs a callback-heavy asyncio program: 100,000 ``await asyncio.sleep(0)``
round trips across 10 tasks, with the monitor watching the loop and without, in alternating rounds in
one process (the machine is noisy: compare the two within a run).

    python benchmarks/loop_monitor.py [--trips 100000] [--rounds 10]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
from time import perf_counter

from pipeline import providers

from otel_agentperf.instrumentation.runtime.asyncio_loops import AsyncioInstrumentor


async def _trips(count: int) -> None:
    for _ in range(count):
        await asyncio.sleep(0)


async def _program(trips: int, tasks: int) -> None:
    await asyncio.gather(*(_trips(trips // tasks) for _ in range(tasks)))


def _timed(trips: int) -> float:
    started = perf_counter()
    asyncio.run(_program(trips, 10))
    return perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trips", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    providers()
    instrumentor = AsyncioInstrumentor()
    off, on = [], []
    for _ in range(args.rounds):
        off.append(_timed(args.trips))
        instrumentor.instrument()
        on.append(_timed(args.trips))
        instrumentor.uninstrument()
    ratios = [watched / bare for watched, bare in zip(on, off, strict=True)]
    print(f"{args.trips} sleep(0) round trips over 10 tasks, {args.rounds} rounds, medians")
    print(f"  without the monitor {statistics.median(off) * 1000:7.1f} ms")
    print(f"  with the monitor    {statistics.median(on) * 1000:7.1f} ms")
    quartiles = statistics.quantiles(ratios, n=4)
    print(
        f"  with/without per round: median {statistics.median(ratios):.3f}x,"
        f" quartiles {quartiles[0]:.3f}-{quartiles[2]:.3f}"
    )


if __name__ == "__main__":
    main()
