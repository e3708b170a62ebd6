"""Per-call overhead of the OpenAI instrumentation, with the SDK on an in-process transport.

    python benchmarks/openai_overhead.py [--calls 300] [--rounds 15]

``httpx.MockTransport`` answers inside the process, so the figures are the SDK's own cost plus ours,
with no network. Compared in one run: the uninstrumented SDK, the SDK plus the floor (one span and the
duration and token histogram records around the call), and the instrumented SDK; non-streaming and
streaming (10 chunks, usage included), sync and async. Then RSS every 25,000 calls over 100,000
instrumented calls, to show it levels off (the span processor's queue fills to its bound first).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
from collections.abc import Callable
from time import perf_counter

import httpx
import openai
from pipeline import providers

from otel_agentperf.conventions import names
from otel_agentperf.instrumentation.llm.openai_sdk import OpenAIInstrumentor
from otel_agentperf.recording import memory

COMPLETION = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "created": 0,
    "model": "m1",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 5, "completion_tokens": 9, "total_tokens": 14},
}
CHUNK = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 0, "model": "m1"}
SSE = "".join(
    [f"data: {json.dumps({**CHUNK, 'choices': [{'index': 0, 'delta': {'content': 'w'}}]})}\n\n" for _ in range(10)]
    + [f"data: {json.dumps({**CHUNK, 'choices': [], 'usage': COMPLETION['usage']})}\n\n", "data: [DONE]\n\n"]
).encode()
MESSAGES = [{"role": "user", "content": "hi"}]


def handler(request: httpx.Request) -> httpx.Response:
    if json.loads(request.content).get("stream"):
        return httpx.Response(200, content=SSE, headers={"content-type": "text/event-stream"})
    return httpx.Response(200, json=COMPLETION)


def compare(variants: dict[str, tuple[bool, Callable[[], object]]], calls: int, rounds: int) -> dict[str, float]:
    """Best seconds per call of each variant, run in rotation round after round so drift hits all alike.

    Each variant says whether the instrumentation is on while it runs.
    """
    instrumentor = OpenAIInstrumentor()
    best = dict.fromkeys(variants, float("inf"))
    gc.disable()
    try:
        for _ in range(rounds):
            for name, (instrumented, function) in variants.items():
                if instrumented:
                    instrumentor.instrument()
                for _ in range(min(calls, 50)):
                    function()
                started = perf_counter()
                for _ in range(calls):
                    function()
                best[name] = min(best[name], (perf_counter() - started) / calls)
                if instrumented:
                    instrumentor.uninstrument()
                gc.collect()
    finally:
        gc.enable()
    return best


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()

    tracer_provider, meter_provider = providers()
    client = openai.OpenAI(
        api_key="x", base_url="http://llm.local/v1", http_client=httpx.Client(transport=httpx.MockTransport(handler))
    )
    tracer = tracer_provider.get_tracer("bench")
    meter = meter_provider.get_meter("bench")
    duration = meter.create_histogram("floor.duration", unit="s")
    tokens = meter.create_histogram("floor.tokens", unit="{token}")
    attributes = {
        names.GEN_AI_OPERATION_NAME: "chat",
        names.GEN_AI_PROVIDER_NAME: "openai",
        names.GEN_AI_REQUEST_MODEL: "m1",
    }

    def plain() -> object:
        return client.chat.completions.create(model="m1", messages=MESSAGES)

    async_client = openai.AsyncOpenAI(
        api_key="x",
        base_url="http://llm.local/v1",
        http_client=httpx.AsyncClient(transport=httpx.MockTransport(handler)),
    )
    loop = asyncio.new_event_loop()

    def awaited() -> object:
        return loop.run_until_complete(async_client.chat.completions.create(model="m1", messages=MESSAGES))

    def streamed() -> object:
        return sum(
            1
            for _ in client.chat.completions.create(
                model="m1", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
            )
        )

    chunk_timing = meter.create_histogram("floor.chunks", unit="s")

    def with_floor(call: Callable[[], object], chunks: int = 0) -> Callable[[], object]:
        """The records the conventions ask for: a span, the duration, two token records and, for a
        stream, one timing per chunk (time to first chunk, then time per output chunk)."""

        def run() -> object:
            started = perf_counter()
            span = tracer.start_span("chat m1", attributes=attributes)
            result = call()
            for _ in range(chunks):
                chunk_timing.record(perf_counter() - started, attributes)
            span.end()
            duration.record(perf_counter() - started, attributes)
            tokens.record(5, {**attributes, names.GEN_AI_TOKEN_TYPE: "input"})
            tokens.record(9, {**attributes, names.GEN_AI_TOKEN_TYPE: "output"})
            return result

        return run

    results = compare(
        {
            "sdk": (False, plain),
            "sdk + floor": (False, with_floor(plain)),
            "instrumented": (True, plain),
            "sdk async": (False, awaited),
            "sdk async + floor": (False, with_floor(awaited)),
            "instrumented async": (True, awaited),
            "sdk stream": (False, streamed),
            "sdk stream + floor": (False, with_floor(streamed, chunks=10)),
            "instrumented stream": (True, streamed),
        },
        args.calls,
        args.rounds,
    )
    print(f"best of {args.rounds} rounds x {args.calls} calls, in-process transport")
    for name, seconds in results.items():
        print(f"  {name:<22} {seconds * 1e6:8.1f} us")
    for kind, base in (("", "sdk"), (" async", "sdk async"), (" stream", "sdk stream")):
        ours = results[f"instrumented{kind}"] - results[base]
        floor = results[f"{base} + floor"] - results[base]
        print(f"  overhead{kind:<8} +{ours * 1e6:.1f} us; floor +{floor * 1e6:.1f} us; {ours / floor:.2f}x the floor")
    OpenAIInstrumentor().instrument()
    before = memory.rss_bytes()
    growth = []
    for _ in range(4):
        for _ in range(25_000):
            plain()
        growth.append(f"{(memory.rss_bytes() - before) / 1024:.0f}")
    print(f"RSS growth after 25k/50k/75k/100k instrumented calls: {' / '.join(growth)} KiB")


if __name__ == "__main__":
    main()
