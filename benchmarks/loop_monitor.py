"""What the loop monitor costs a callback-heavy asyncio program: 100,000 ``await asyncio.sleep(0)``
round trips across 10 tasks, with the monitor watching the loop and without, in alternating rounds in
one process (the machine is noisy: compare the two within a run). A third variant runs the monitor with
its saturation looks switched off (``_sample`` a no-op): what loop saturation adds. Then the watchdog's
own time per saturation look (``_sample``) on a saturated loop of 50 tasks, each inside an operation:
the GIL time each look takes from the loop.

    python benchmarks/loop_monitor.py [--trips 100000] [--rounds 10]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import threading
from time import perf_counter, thread_time
from typing import Any

from pipeline import providers

from otel_agentperf import tool
from otel_agentperf.instrumentation.runtime.asyncio_loops import AsyncioInstrumentor
from otel_agentperf.recording.loop_monitor import _Watched, monitor


async def _trips(count: int) -> None:
    for _ in range(count):
        await asyncio.sleep(0)


async def _program(trips: int, tasks: int) -> None:
    await asyncio.gather(*(_trips(trips // tasks) for _ in range(tasks)))


def _timed(trips: int) -> float:
    started = perf_counter()
    asyncio.run(_program(trips, 10))
    return perf_counter() - started


def _no_looks(_entry: Any, _now: float) -> tuple[float, list[Any]]:
    return 0.0, []


@tool
async def _step() -> None:
    await asyncio.sleep(0)


def _look_cost(looks: int) -> float:
    """CPU microseconds per saturation look at a loop running 50 tasks, each awaiting inside a tool."""
    ready = threading.Event()
    done = threading.Event()
    found: dict[str, Any] = {}

    async def busy() -> None:
        while not done.is_set():
            await _step()

    async def program() -> None:
        found["loop"] = asyncio.get_running_loop()
        tasks = [asyncio.create_task(busy()) for _ in range(50)]
        await asyncio.sleep(0)
        ready.set()
        await asyncio.gather(*tasks)

    thread = threading.Thread(target=asyncio.run, args=(program(),))
    thread.start()
    ready.wait()
    entry = _Watched(found["loop"], thread.ident or 0, "bench")
    started = thread_time()  # this thread's CPU: the looks' own work, not its waits for the GIL
    for _ in range(looks):
        monitor._sample(entry, perf_counter())
    seconds = thread_time() - started
    done.set()
    thread.join()
    return seconds / looks * 1e6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trips", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    providers()
    instrumentor = AsyncioInstrumentor()
    off, on, unsampled = [], [], []
    sample = monitor._sample
    for _ in range(args.rounds):
        off.append(_timed(args.trips))
        instrumentor.instrument()
        on.append(_timed(args.trips))
        monitor._sample = _no_looks  # type: ignore[method-assign]
        unsampled.append(_timed(args.trips))
        monitor._sample = sample  # type: ignore[method-assign]
        instrumentor.uninstrument()
    print(f"{args.trips} sleep(0) round trips over 10 tasks, {args.rounds} rounds, medians")
    print(f"  without the monitor          {statistics.median(off) * 1000:7.1f} ms")
    print(f"  with the monitor             {statistics.median(on) * 1000:7.1f} ms")
    print(f"  with it, no saturation looks {statistics.median(unsampled) * 1000:7.1f} ms")
    for what, runs in (("monitor/none", on), ("no looks/none", unsampled)):
        ratios = [watched / bare for watched, bare in zip(runs, off, strict=True)]
        quartiles = statistics.quantiles(ratios, n=4)
        print(
            f"  {what} per round: median {statistics.median(ratios):.3f}x,"
            f" quartiles {quartiles[0]:.3f}-{quartiles[2]:.3f}"
        )
    instrumentor.instrument()  # operations note their frames only while a loop is watched
    try:
        print(f"  a saturation look at 50 tasks in operations: {_look_cost(2000):.1f} us of the GIL")
    finally:
        instrumentor.uninstrument()


if __name__ == "__main__":
    main()
