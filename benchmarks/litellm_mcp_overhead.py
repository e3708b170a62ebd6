"""Per-call overhead of the LiteLLM and MCP instrumentors, instrumented and not in alternating blocks.

    python benchmarks/litellm_mcp_overhead.py [--rounds 10] [--calls 200]

LiteLLM: ``litellm.completion`` with LiteLLM's own ``mock_response`` (all of LiteLLM's work, no network),
one LLM operation per call. MCP: ``ClientSession.call_tool`` over stdio to tests/apps/mcp_tools_server.py
(uninstrumented server), one tool operation per call. The median block of each variant is reported.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from time import perf_counter
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "true")  # LiteLLM would fetch its cost map

import litellm
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from pipeline import providers

from otel_agentperf.instrumentation.llm.litellm_calls import LiteLLMInstrumentor
from otel_agentperf.instrumentation.tools.mcp_sessions import MCPInstrumentor

SERVER = Path(__file__).resolve().parent.parent / "tests" / "apps" / "mcp_tools_server.py"
MESSAGES = [{"role": "user", "content": "why is my agent slow"}]


async def _blocks(
    call: Callable[[], Awaitable[Any]], instrumentor: Any, rounds: int, calls: int
) -> tuple[float, float]:
    timings: dict[bool, list[float]] = {False: [], True: []}
    for index in range(rounds):
        for on in (False, True) if index % 2 == 0 else (True, False):
            if on:
                instrumentor.instrument()
            started = perf_counter()
            for _ in range(calls):
                await call()
            timings[on].append((perf_counter() - started) / calls)
            if on:
                instrumentor.uninstrument()
    return statistics.median(timings[False]), statistics.median(timings[True])


async def _litellm() -> Any:
    return litellm.completion(model="openai/gpt-4o-mini", messages=MESSAGES, mock_response="Slow tools.")


async def main(rounds: int, calls: int) -> None:
    providers()
    await _litellm()  # LiteLLM's first call loads its tables
    bare, ours = await _blocks(_litellm, LiteLLMInstrumentor(), rounds, calls)
    print(f"litellm.completion: {bare * 1e3:.2f} ms bare, +{(ours - bare) * 1e6:.0f} µs instrumented")
    params = StdioServerParameters(command=sys.executable, args=[str(SERVER), "stdio"])
    with open(os.devnull, "w") as quiet:
        async with stdio_client(params, errlog=quiet) as (read, write), ClientSession(read, write) as session:
            await session.initialize()
            bare, ours = await _blocks(
                lambda: session.call_tool("add", {"a": 1, "b": 2}), MCPInstrumentor(), rounds, calls
            )
    print(f"MCP call_tool (stdio): {bare * 1e3:.2f} ms bare, +{(ours - bare) * 1e6:.0f} µs instrumented")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--calls", type=int, default=200)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.rounds, arguments.calls))
