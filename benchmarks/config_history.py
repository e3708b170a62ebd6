"""Overhead of config and history instrumentation on realistic small operations, in one run.

    python benchmarks/config_history.py [--calls 5000] [--rounds 5]

- ``yaml.safe_load`` of a small settings file (opened each time, as apps do), plain and instrumented;
- a JSONL append (open, write one line, close), plain and as an ``@history`` operation.
Instrumented runs record through a real SDK pipeline (BatchSpanProcessor, MeterProvider with a reader).
"""

from __future__ import annotations

import argparse
import json
import tempfile
from collections.abc import Callable
from pathlib import Path
from time import perf_counter

import yaml
from pipeline import providers

import otel_agentperf
from otel_agentperf.instrumentation.config.pyyaml import PyYAMLInstrumentor

SETTINGS = "model: small\nmax_steps: 8\ntools: [search, calculate, summarize]\nretry: {attempts: 3, backoff: 0.5}\n"


def best(function: Callable[[], object], calls: int, rounds: int) -> float:
    for _ in range(min(calls, 500)):
        function()
    timings = []
    for _ in range(rounds):
        started = perf_counter()
        for _ in range(calls):
            function()
        timings.append((perf_counter() - started) / calls)
    return min(timings)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    providers()

    with tempfile.TemporaryDirectory() as workdir:
        settings_file = Path(workdir) / "settings.yaml"
        settings_file.write_text(SETTINGS)
        history_file = Path(workdir) / "runs.jsonl"

        def load() -> object:
            with settings_file.open() as handle:
                return yaml.safe_load(handle)

        def append() -> None:
            with history_file.open("a") as handle:
                handle.write(json.dumps({"id": 1, "summary": "done"}) + "\n")

        plain_load = best(load, args.calls, args.rounds)
        plain_append = best(append, args.calls, args.rounds)
        PyYAMLInstrumentor().instrument()
        traced_load = best(load, args.calls, args.rounds)
        traced_append = best(otel_agentperf.history(store="jsonl", operation="append")(append), args.calls, args.rounds)

    print(f"best of {args.rounds} rounds x {args.calls} calls")
    for name, plain, traced in (
        ("yaml.safe_load of a small file", plain_load, traced_load),
        ("JSONL append", plain_append, traced_append),
    ):
        print(
            f"  {name:<32} plain {plain * 1e6:7.1f} us, instrumented {traced * 1e6:7.1f} us"
            f" (+{(traced - plain) * 1e6:.1f} us, {traced / plain:.2f}x)"
        )


if __name__ == "__main__":
    main()
