"""What the diagnoses add to an operation (issue #29 items 2-4), by parts, against a whole operation.

``python benchmarks/diagnoses.py``: timeit of the argument digest for a tool call (two short arguments)
and a model call (20 messages of 60 words), of a finished call extending its parent's run of calls, and
of a whole decorated tool call inside an agent (no-op SDK providers), the figure the parts are shares of.
"""

from __future__ import annotations

import asyncio
import timeit

import otel_agentperf as ap
from otel_agentperf.recording import fingerprints
from otel_agentperf.recording.invocations import Invocation

MESSAGES = [{"role": "user", "content": " ".join(["word"] * 60)} for _ in range(20)]


@ap.tool
async def search(query: str, limit: int) -> int:
    return limit


@ap.agent(name="Bench")
async def agent(calls: int) -> None:
    for _ in range(calls):
        await search("flights to oslo", 5)


def best(statement: object, number: int) -> float:
    """Seconds per run, best of five repeats."""
    return min(timeit.repeat(statement, number=number, repeat=5)) / number  # type: ignore[arg-type]


def main() -> None:
    tool_digest = best(lambda: fingerprints.of_call("execute_tool search", None, ("flights to oslo", 5), {}), 20000)
    model_digest = best(lambda: fingerprints.of_call("chat", None, (), {"model": "m", "messages": MESSAGES}), 2000)
    parent = Invocation.__new__(Invocation)
    parent._chain = None
    parent._sequential = None
    clock = [0.0]

    def child_done() -> None:
        clock[0] += 1.0
        parent._child_done("tool", clock[0], 0.5, clock[0] + 0.5, 0.0)

    run = best(child_done, 50000)
    whole = best(lambda: asyncio.run(agent(200)), 5) / 200
    print(f"whole tool operation inside an agent: {whole * 1e6:.1f} us")
    for what, seconds in (("tool argument digest", tool_digest), ("run of calls, per finished call", run)):
        print(f"{what}: {seconds * 1e6:.2f} us ({100 * seconds / whole:.1f}% of the operation)")
    print(f"model call digest, 20 messages of 60 words: {model_digest * 1e6:.1f} us")


if __name__ == "__main__":
    main()
