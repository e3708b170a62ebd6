"""Per-call overhead of the OpenAI instrumentation beside contrib's openai-v2, on an in-process transport.

    PYTHONPATH=.venv/contrib python benchmarks/openai_overhead.py [--calls 300] [--rounds 15]

(``scripts/test.sh`` installs contrib's ``opentelemetry-instrumentation-openai-v2`` into ``.venv/contrib``.)
``httpx.MockTransport`` answers inside the process, so the figures are the SDK's own cost plus the
instrumentation's, with no network. Compared in one run, in alternating blocks of calls through one
pipeline (a BatchSpanProcessor into a discarding exporter, an in-memory metric reader): the bare SDK,
the SDK plus the floor (one span and the duration and token histogram records around the call, each
linked to the span by its exemplar), ours, and contrib's; non-streaming and streaming (10 chunks, usage
included), sync and async. Each instrumentation is switched on only for its own blocks. Then RSS every
25,000 calls over 100,000 instrumented calls, to show it levels off (the span processor's queue fills to
its bound first).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import statistics
from collections.abc import Callable
from time import perf_counter
from typing import Any

import httpx
import openai
from opentelemetry import trace
from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor as ContribInstrumentor
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


def compare(
    variants: dict[str, tuple[Any, Callable[[], object]]], calls: int, rounds: int, **providers: Any
) -> dict[str, list[float]]:
    """Seconds per call of each variant in each round, run in rotation so drift hits all alike.

    Each variant names the instrumentor switched on while it runs (None: none).
    """
    times: dict[str, list[float]] = {name: [] for name in variants}
    gc.disable()
    try:
        for _ in range(rounds):
            for name, (instrumentor, function) in variants.items():
                if instrumentor is not None:
                    instrumentor.instrument(**providers)
                for _ in range(min(calls, 50)):
                    function()
                started = perf_counter()
                for _ in range(calls):
                    function()
                times[name].append((perf_counter() - started) / calls)
                if instrumentor is not None:
                    instrumentor.uninstrument()
                gc.collect()
    finally:
        gc.enable()
    return times


def added(times: dict[str, list[float]], variant: str, base: str) -> list[float]:
    """What ``variant`` added to ``base`` in each round (paired: the two ran back to back)."""
    return [ours - bare for ours, bare in zip(times[variant], times[base], strict=True)]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--variant", help="only make --calls calls of this variant, untimed (instructions.sh)")
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
            linked = trace.set_span_in_context(span)  # each point's exemplar names the span, as contrib's do
            result = call()
            for _ in range(chunks):
                chunk_timing.record(perf_counter() - started, attributes, linked)
            span.end()
            duration.record(perf_counter() - started, attributes, linked)
            tokens.record(5, {**attributes, names.GEN_AI_TOKEN_TYPE: "input"}, linked)
            tokens.record(9, {**attributes, names.GEN_AI_TOKEN_TYPE: "output"}, linked)
            return result

        return run

    ours, contrib = OpenAIInstrumentor(), ContribInstrumentor()
    variants: dict[str, tuple[Any, Callable[[], object]]] = {}
    for kind, call, chunks in (("", plain, 0), (" async", awaited, 0), (" stream", streamed, 10)):
        variants[f"sdk{kind}"] = (None, call)
        variants[f"sdk{kind} + floor"] = (None, with_floor(call, chunks))
        variants[f"ours{kind}"] = (ours, call)
        variants[f"contrib{kind}"] = (contrib, call)
    if args.variant:
        instrumentor, call = variants[args.variant]
        if instrumentor is not None:
            instrumentor.instrument(tracer_provider=tracer_provider, meter_provider=meter_provider)
        for _ in range(args.calls):
            call()
        return
    times = compare(variants, args.calls, args.rounds, tracer_provider=tracer_provider, meter_provider=meter_provider)
    print(f"{args.rounds} rounds x {args.calls} calls, in-process transport; medians over rounds")
    for name, seconds in times.items():
        print(f"  {name:<22} {statistics.median(seconds) * 1e6:8.1f} us")
    for kind in ("", " async", " stream"):
        base = f"sdk{kind}"
        cost = {who: added(times, f"{who}{kind}", base) for who in ("ours", "contrib")}
        cost["floor"] = added(times, f"{base} + floor", base)
        ratios = [o / c for o, c in zip(cost["ours"], cost["contrib"], strict=True) if c > 0]
        quartiles = statistics.quantiles(ratios, n=4)
        print(
            f"  overhead{kind:<8} ours +{statistics.median(cost['ours']) * 1e6:.1f} us,"
            f" contrib +{statistics.median(cost['contrib']) * 1e6:.1f} us,"
            f" floor +{statistics.median(cost['floor']) * 1e6:.1f} us;"
            f" ours/contrib per round: median {statistics.median(ratios):.2f}x,"
            f" quartiles {quartiles[0]:.2f}-{quartiles[2]:.2f}"
        )
    before = memory.rss_bytes()
    growth = []
    for _ in range(4):
        for _ in range(25_000):
            plain()
        growth.append(f"{(memory.rss_bytes() - before) / 1024:.0f}")
    print(f"RSS growth after 25k/50k/75k/100k instrumented calls: {' / '.join(growth)} KiB")


if __name__ == "__main__":
    main()
