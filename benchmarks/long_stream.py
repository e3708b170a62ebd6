"""The longest single step of a long OpenAI stream, bare and instrumented: what the reader waits at worst.

    PYTHONPATH=.venv/contrib python benchmarks/long_stream.py [--chunks 2000] [--rounds 5]

A stream of ``--chunks`` chat-completion chunks (usage included) on ``httpx.MockTransport``, read one
``next()`` at a time, in alternating rounds in one process: the SDK alone, ours, and contrib's openai-v2
(each instrumentation switched on only for its own rounds, through one pipeline). Printed per variant,
as medians over rounds: the longest step (on an event loop, how long one read holds the loop), the
step that ends the stream, and the whole read. The conventions ask for one time-per-chunk point per
chunk after the first; recording them all when the stream ends would make its last step the longest.
"""

from __future__ import annotations

import argparse
import json
import statistics
from collections.abc import Iterator
from time import perf_counter
from typing import Any

import httpx
import openai
from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor as ContribInstrumentor
from pipeline import providers

from otel_agentperf.instrumentation.llm.openai_sdk import OpenAIInstrumentor

CHUNK = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 0, "model": "m1"}


def stream_body(chunks: int) -> bytes:
    delta = json.dumps({**CHUNK, "choices": [{"index": 0, "delta": {"content": "w"}}]})
    usage = {"prompt_tokens": 5, "completion_tokens": chunks, "total_tokens": 5 + chunks}
    tail = [f"data: {json.dumps({**CHUNK, 'choices': [], 'usage': usage})}\n\n", "data: [DONE]\n\n"]
    return "".join([f"data: {delta}\n\n"] * chunks + tail).encode()


def steps(chunks: Iterator[Any]) -> list[float]:
    """Seconds of each ``next()``, the one that raises StopIteration last."""
    taken = []
    while True:
        started = perf_counter()
        try:
            next(chunks)
        except StopIteration:
            taken.append(perf_counter() - started)
            return taken
        taken.append(perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--chunks", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    body = stream_body(args.chunks)
    tracer_provider, meter_provider = providers()
    transport = httpx.MockTransport(
        lambda request: httpx.Response(200, content=body, headers={"content-type": "text/event-stream"})
    )
    client = openai.OpenAI(api_key="x", base_url="http://llm.local/v1", http_client=httpx.Client(transport=transport))

    def read() -> list[float]:
        stream = client.chat.completions.create(
            model="m1",
            messages=[{"role": "user", "content": "hi"}],
            stream=True,
            stream_options={"include_usage": True},
        )
        return steps(iter(stream))

    variants: dict[str, Any] = {"sdk": None, "ours": OpenAIInstrumentor(), "contrib": ContribInstrumentor()}
    longest: dict[str, list[float]] = {name: [] for name in variants}
    last: dict[str, list[float]] = {name: [] for name in variants}
    whole: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(args.rounds):
        for name, instrumentor in variants.items():
            if instrumentor is not None:
                instrumentor.instrument(tracer_provider=tracer_provider, meter_provider=meter_provider)
            try:
                read()  # warm
                taken = read()
            finally:
                if instrumentor is not None:
                    instrumentor.uninstrument()
            longest[name].append(max(taken))
            last[name].append(taken[-1])
            whole[name].append(sum(taken))
    print(f"a stream of {args.chunks} chunks, {args.rounds} alternating rounds; medians over rounds")
    for name in variants:
        print(
            f"  {name:<8} longest step {statistics.median(longest[name]) * 1e3:7.2f} ms,"
            f" last step {statistics.median(last[name]) * 1e3:7.2f} ms,"
            f" whole read {statistics.median(whole[name]) * 1e3:8.1f} ms"
        )


if __name__ == "__main__":
    main()
