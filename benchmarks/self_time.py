"""What self-time bookkeeping costs one operation, as a share of the whole per-operation cost, in one run.

    python benchmarks/self_time.py [--calls 20000] [--rounds 5]

The bookkeeping is what self time adds to an operation: its duration appended to the enclosing
operation's children, its own self time computed from its children, and one add to the running total
read by ``agentperf.operation.self_time``. It is timed alone and beside a whole ``@agent`` call, against
the same SDK pipeline (see ``pipeline.py``), best of the rounds, three times over (the machine is noisy).
"""

from __future__ import annotations

import argparse
import timeit

from pipeline import providers

import otel_agentperf as ap
from otel_agentperf.conventions import names
from otel_agentperf.recording import state


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    ap.configure(*providers())

    @ap.agent(name="bench")
    def operation(x: int) -> int:
        return x + 1

    recorder = state.telemetry().recorder
    attributes = {names.GEN_AI_OPERATION_NAME: names.OP_INVOKE_AGENT, names.GEN_AI_AGENT_NAME: "bench"}
    children: list[float] = []

    def bookkeeping() -> None:
        children.append(0.001)
        own = max(0.002 - sum(children[-1:]), 0.0)
        recorder.self_time(names.KIND_AGENT, own, attributes)

    for _ in range(3):
        whole = min(timeit.repeat(lambda: operation(1), number=args.calls, repeat=args.rounds)) / args.calls
        part = min(timeit.repeat(bookkeeping, number=args.calls, repeat=args.rounds)) / args.calls
        children.clear()
        print(
            f"per operation {whole * 1e6:.2f} us, self-time bookkeeping {part * 1e6:.2f} us = {100 * part / whole:.1f}%"
        )


if __name__ == "__main__":
    main()
