"""Keep hints: a request's span says why its trace is worth keeping (slow, error, retried, blocking, costly),
and only an interesting request's does; metrics stay exact whatever the trace sampler keeps."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterator
from typing import Any

import openai
import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import otel_agentperf as perf
from otel_agentperf.conventions import names
from otel_agentperf.conventions.instruments import catalogue
from otel_agentperf.instrumentation.llm.openai_sdk import OpenAIInstrumentor
from otel_agentperf.recording import keep_hints, state
from otel_agentperf.runtime import settings
from tests.conftest import MakeRecorded, instrumented_by

MESSAGES: list[Any] = [{"role": "user", "content": "where is my order"}]


@pytest.fixture
def cheap_threshold(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A cost threshold one priced model call passes (the local server's answers are a few tokens)."""
    monkeypatch.setenv(settings.KEEP_COST_ENV, "0.0000001")
    settings.reload()
    yield
    monkeypatch.delenv(settings.KEEP_COST_ENV)
    settings.reload()


@perf.tool
def pause(seconds: float) -> None:
    time.sleep(seconds)


@perf.tool
def fails() -> None:
    raise TimeoutError("the backend timed out")


@perf.agent(name="steady")
def steady(seconds: float) -> None:
    pause(seconds)


@perf.agent(name="recovers")
def recovers() -> None:
    with contextlib.suppress(TimeoutError):
        fails()  # a tool inside it failed; it carried on


@perf.agent(name="holds_the_loop")
async def holds_the_loop() -> None:
    pause(0.06)  # synchronous, on the loop's thread: the loop is held past the 20 ms threshold


def test_exactly_the_interesting_requests_carry_keep_hints(
    make_recorded: MakeRecorded, server: Any, cheap_threshold: None
) -> None:
    recorded = make_recorded()
    client = openai.OpenAI(base_url=server.base_url, api_key="sk-local", max_retries=2)
    limited = f"ratelimit-1-keep-{time.monotonic_ns()}"  # the server counts requests per model per session

    @perf.agent(name="asks_twice")
    def asks_twice() -> None:
        client.chat.completions.create(model=limited, messages=MESSAGES)  # 429, then answered

    @perf.agent(name="asks_a_priced_model")
    def asks_a_priced_model() -> None:
        client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)

    with instrumented_by(OpenAIInstrumentor()):
        for _ in range(keep_hints.MINIMUM):
            steady(0.03)  # its recent latencies: 30 ms each
        steady(0.0)  # normal
        steady(0.4)  # slow
        with pytest.raises(ValueError):
            perf.agent(name="raises")(lambda: (_ for _ in ()).throw(ValueError("no")))()
        recovers()
        asks_twice()
        asyncio.run(holds_the_loop())
        asks_a_priced_model()
    hints = {
        (span.name, index): (span.attributes or {}).get(names.KEEP)
        for index, span in enumerate(s for s in recorded.spans() if s.name.startswith("invoke_agent"))
    }
    found = {name: hint for (name, index), hint in hints.items() if hint is not None}
    steadies = [hint for (name, _), hint in hints.items() if name == "invoke_agent steady"]
    assert steadies == [None] * (keep_hints.MINIMUM + 1) + ["slow"]
    assert {name: hint for name, hint in found.items() if name != "invoke_agent steady"} == {
        "invoke_agent raises": "error",
        "invoke_agent recovers": "error",
        "invoke_agent asks_twice": "retried",
        "invoke_agent holds_the_loop": "blocking",
        "invoke_agent asks_a_priced_model": "costly",
    }
    slow = [s for s in recorded.spans() if (s.attributes or {}).get(names.KEEP) == "slow"]
    assert [dict(s.attributes or {}).get(f"{names.KEEP}.slow") for s in slow] == [True]
    # Only requests carry them: no tool or model call does.
    assert all(
        names.KEEP not in (s.attributes or {}) for s in recorded.spans() if not s.name.startswith("invoke_agent")
    )


def test_metrics_stay_exact_under_a_ratio_sampler(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", "traceidratio")
    monkeypatch.setenv("OTEL_TRACES_SAMPLER_ARG", "0.1")
    exporter = InMemorySpanExporter()
    tracer_provider = TracerProvider()  # the sampler from the environment, as the SDK's configurator makes it
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader])
    perf.configure(tracer_provider, meter_provider)
    try:
        for _ in range(300):
            steady(0.0)
        sampled = [span for span in exporter.get_finished_spans() if span.name == "invoke_agent steady"]
        data = reader.get_metrics_data()
    finally:
        state.configure()
        meter_provider.shutdown()
        tracer_provider.shutdown()
    assert 0 < len(sampled) < 100  # about 30 of 300 traces sampled
    durations = catalogue(False).durations
    counts = {
        (
            metric.name,
            point.attributes.get(names.GEN_AI_TOOL_NAME) or point.attributes.get(names.GEN_AI_AGENT_NAME),
        ): point.count
        for resource in data.resource_metrics
        for scope in resource.scope_metrics
        for metric in scope.metrics
        if metric.name in (durations[names.KIND_AGENT].name, durations[names.KIND_TOOL].name)
        for point in metric.data.data_points
    }
    assert counts == {
        (durations[names.KIND_AGENT].name, "steady"): 300,
        (durations[names.KIND_TOOL].name, "pause"): 300,
    }
