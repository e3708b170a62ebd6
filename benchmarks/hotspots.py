"""What connection waits, the cold start's import timer and the CPU sampler cost (issue #29 items 5-7).

``python benchmarks/hotspots.py``:

- connection waits: the pool check an LLM call's HTTP request pays when its pool has room (the common
  case: it is then left untraced), timeit against a real ``httpx2.AsyncClient``'s pool;
- the import timer: importing 200 small modules written to a temporary folder, with the finder and
  without (it runs only from instrumentation to the first agent);
- the CPU sampler: a CPU-bound decorated tool (40,000 rounds of pure Python, run 10 times) with
  the sampler on and off, interleaved, best of each; and one look's own time.
"""

from __future__ import annotations

import asyncio
import importlib
import sys
import tempfile
import time
import timeit
from pathlib import Path

import httpx2

import otel_agentperf as ap
from otel_agentperf.instrumentation.llm import attempts
from otel_agentperf.recording import cpu_sampler, imports, loop_clock
from otel_agentperf.recording.cpu_sampler import sampler


def best(statement: object, number: int) -> float:
    """Seconds per run, best of five repeats."""
    return min(timeit.repeat(statement, number=number, repeat=5)) / number  # type: ignore[arg-type]


def connection_check() -> float:
    client = httpx2.AsyncClient()
    request = client.build_request("POST", "http://127.0.0.1:9/v1/chat/completions")
    return best(lambda: attempts._traced(client, (request,), {}, attempts._AsyncHanded), 50000)


def import_timer(modules: int = 200) -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as folder:
        for index in range(modules):
            Path(folder, f"bench_mod_{index}.py").write_text(f"VALUE = {index}\nNAMES = [str(i) for i in range(50)]\n")
        sys.path.insert(0, folder)
        try:
            figures = []
            for timed in (False, True, False, True):
                prefix = "bench_mod_"
                for name in [name for name in sys.modules if name.startswith(prefix)]:
                    del sys.modules[name]
                importlib.invalidate_caches()
                if timed:
                    imports.timer.started = None
                    imports.timer.start()
                began = time.perf_counter()
                for index in range(modules):
                    importlib.import_module(f"{prefix}{index}")
                figures.append((timed, (time.perf_counter() - began) / modules))
                imports.timer.stop()
        finally:
            sys.path.remove(folder)
    plain = min(seconds for timed, seconds in figures if not timed)
    with_timer = min(seconds for timed, seconds in figures if timed)
    return plain, with_timer


@ap.tool
async def crunch(rounds: int) -> int:
    total = 0
    for _ in range(rounds):
        total += sum(i * i for i in range(100))
    return total


def cpu_sampler_overhead(rounds: int = 40000, runs: int = 10) -> tuple[float, float]:
    off, on = [], []
    for index in range(2 * runs):
        sampling = index % 2 == 1
        if sampling:
            sampler.start()
        began = time.perf_counter()
        asyncio.run(crunch(rounds))
        (on if sampling else off).append(time.perf_counter() - began)
        if sampling:
            sampler.stop()
    return min(off), min(on)


def main() -> None:
    check = connection_check()
    print(f"connection waits, pool check of a request whose pool has room: {check * 1e6:.2f} us")
    plain, timed = import_timer()
    print(f"import of a small module: {plain * 1e6:.1f} us plain, {timed * 1e6:.1f} us timed")
    off, on = cpu_sampler_overhead()
    print(f"CPU-bound tool: {off * 1000:.1f} ms sampler off, {on * 1000:.1f} ms on ({100 * (on - off) / off:+.2f}%)")
    here = sys._getframe()
    loop_clock.RUNNING_FRAMES[here] = crunch  # this thread runs an operation, as a sampled one does
    sampler.on = True
    look = best(lambda: sampler.sample(), 2000)
    sampler.stop()
    loop_clock.RUNNING_FRAMES.pop(here, None)
    print(f"one look, one thread running an operation: {look * 1e6:.1f} us, {1 / cpu_sampler.INTERVAL:.0f} a second")


if __name__ == "__main__":
    main()
