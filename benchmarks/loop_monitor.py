"""What the loop monitor costs a callback-heavy asyncio program: 100,000 ``await asyncio.sleep(0)``
round trips across 10 tasks, with the monitor watching the loop and without, in alternating rounds in
one process (the machine is noisy: compare the two within a run). A third variant runs the monitor with
its saturation looks switched off (``_sample`` a no-op): what loop saturation adds. Then the watchdog's
own time per saturation look (``_sample``) on a saturated loop of 50 tasks, each inside an operation:
the GIL time each look takes from the loop.

    python benchmarks/loop_monitor.py [--trips 100000] [--rounds 10]

Beside the monitor, its floor: the least any watchdog of this design does, a thread that wakes every
quarter of the blocking threshold and schedules a no-op callback on the loop (``call_soon_threadsafe``:
the wake-up byte the loop reads, the GIL handed to the thread and back). Each is given as wall clock and
as CPU time of the whole process (both threads; less disturbed by other work on a shared machine than
wall clock), each round against the bare round beside it.

On a loaded machine a run takes longer than its CPU time, and the watchdog looks by the clock on the wall:
the share it costs grows with the load. So the callbacks each ran are counted too, and the CPU one look
costs (the difference to the bare round, over the callbacks) gives the share on an idle machine, where a
CPU-bound loop's second of CPU is a second of the wall: the cost of a look times looks per second.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import threading
import time
from collections.abc import Callable
from time import perf_counter, thread_time
from typing import Any

from pipeline import providers

from otel_agentperf import tool
from otel_agentperf.instrumentation.runtime.asyncio_loops import AsyncioInstrumentor
from otel_agentperf.recording.loop_monitor import LoopMonitor, _Watched, monitor
from otel_agentperf.runtime import settings

_CALLBACKS = [0]  # callbacks the loop ran for a watchdog, this round


async def _trips(count: int) -> None:
    for _ in range(count):
        await asyncio.sleep(0)


async def _program(trips: int, tasks: int) -> None:
    await asyncio.gather(*(_trips(trips // tasks) for _ in range(tasks)))


def _timed(trips: int, main: Callable[[int], None]) -> tuple[float, float, int]:
    """Wall and CPU seconds of one run, and the callbacks a watchdog had the loop run."""
    _CALLBACKS[0] = 0
    started, cpu = perf_counter(), time.process_time()
    main(trips)
    return perf_counter() - started, time.process_time() - cpu, _CALLBACKS[0]


def _bare(trips: int) -> None:
    asyncio.run(_program(trips, 10))


def _floor(trips: int) -> None:
    """The program with the cheapest watchdog of the monitor's design beside it."""
    interval = settings.current().loop_block_threshold_s / 4
    stop = threading.Event()

    async def program() -> None:
        loop = asyncio.get_running_loop()

        def watch() -> None:
            while not stop.wait(interval):
                loop.call_soon_threadsafe(_nothing)

        thread = threading.Thread(target=watch, daemon=True)
        thread.start()
        try:
            await _program(trips, 10)
        finally:
            stop.set()
            thread.join()

    asyncio.run(program())


def _nothing() -> None:
    _CALLBACKS[0] += 1


def _counting_monitor() -> None:
    """Count the monitor's callbacks as the loop runs them (a list increment beside each look's work)."""
    ran = LoopMonitor._ran

    def counted(self: LoopMonitor, entry: object) -> None:
        _CALLBACKS[0] += 1
        ran(self, entry)  # type: ignore[arg-type]

    LoopMonitor._ran = counted  # type: ignore[method-assign]


Run = tuple[float, float, int]


def _ratios(variant: list[Run], bare: list[Run], which: int) -> str:
    ratios = [run[which] / base[which] for run, base in zip(variant, bare, strict=True)]
    quartiles = statistics.quantiles(ratios, n=4)
    return f"median {statistics.median(ratios):.3f}x, quartiles {quartiles[0]:.3f}-{quartiles[2]:.3f}"


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
    entry = _Watched(found["loop"], thread.ident or 0, thread.native_id or 0, "bench")
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
    _counting_monitor()
    instrumentor = AsyncioInstrumentor()
    off: list[Run] = []
    on: list[Run] = []
    floor: list[Run] = []
    unsampled: list[Run] = []
    sample = monitor._sample
    for _ in range(args.rounds):
        off.append(_timed(args.trips, _bare))
        floor.append(_timed(args.trips, _floor))
        instrumentor.instrument()
        on.append(_timed(args.trips, _bare))
        monitor._sample = _no_looks  # type: ignore[method-assign]
        unsampled.append(_timed(args.trips, _bare))
        monitor._sample = sample  # type: ignore[method-assign]
        instrumentor.uninstrument()
    print(f"{args.trips} sleep(0) round trips over 10 tasks, {args.rounds} rounds, medians")
    variants = (("without the monitor", off), ("the floor", floor), ("with the monitor", on))
    for name, runs in (*variants, ("no saturation looks", unsampled)):
        wall, cpu = statistics.median(run[0] for run in runs), statistics.median(run[1] for run in runs)
        print(f"  {name:<20} {wall * 1000:7.1f} ms wall, {cpu * 1000:7.1f} ms CPU")
    per_second = 4 / settings.current().loop_block_threshold_s
    for name, runs in (("floor", floor), ("with", on), ("no looks", unsampled)):
        print(f"  {name}/without per round, wall: {_ratios(runs, off, 0)}")
        print(f"  {name}/without per round, CPU:  {_ratios(runs, off, 1)}")
        looks = [(run[1] - base[1]) / run[2] for run, base in zip(runs, off, strict=True) if run[2]]
        if looks:
            look = statistics.median(looks)
            print(
                f"  {name}: {statistics.median(run[2] for run in runs):.0f} callbacks a run, {look * 1e6:.1f} us CPU"
                f" per look (median of rounds): {100 * look * per_second:.2f}% of a CPU-bound loop on an idle"
                f" machine ({per_second:.0f} looks a second)"
            )
    instrumentor.instrument()  # operations note their frames only while a loop is watched
    try:
        print(f"  a saturation look at 50 tasks in operations: {_look_cost(2000):.1f} us of the GIL")
    finally:
        instrumentor.uninstrument()


if __name__ == "__main__":
    main()
