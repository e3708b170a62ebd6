"""Event-loop accounting: an operation is charged only for the time the loop ran its own code synchronously.

Awaiting is never holding, whatever wraps the stream (a stream manager, a helper stream, a generator); a
synchronous call holds the loop until it returns, and a synchronous step of what it streams while the
step runs; what the operations it called held is theirs, not its own again; the time any operation
waited for a loop others held is the holders' cost, with or without children; and no loop is held more
than the wall time it ran. Real SDKs against the local server, the real loop monitor, a real Prometheus
reader: the report's own rows.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from time import perf_counter
from typing import Any

import anthropic
import openai
import pytest
from opentelemetry.exporter.prometheus import PrometheusMetricReader
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client import CollectorRegistry, generate_latest

import otel_agentperf as ap
from otel_agentperf.conventions import names
from otel_agentperf.instrumentation.llm.anthropic_sdk import AnthropicInstrumentor
from otel_agentperf.instrumentation.llm.openai_sdk import OpenAIInstrumentor
from otel_agentperf.instrumentation.runtime.asyncio_loops import AsyncioInstrumentor
from otel_agentperf.views import scrape
from otel_agentperf.views.rows import Row
from tests.conftest import instrumented_by, run_queue_seconds

MESSAGES = [{"role": "user", "content": "why is my agent slow"}]
SLOW = "slow-250-"  # the server waits this long before it answers: a stream that lasts a quarter second


class Run:
    """What one program did on a watched loop: the report's rows, the spans, and its wall time."""

    def __init__(self, rows: dict[tuple[str, str], Row], spans: list[Any], wall: float, starved: float) -> None:
        self.rows, self.spans, self.wall = rows, spans, wall
        self.starved = starved  # what the loop's thread waited for a CPU meanwhile (a loaded machine's)

    def llm(self) -> Row:
        (row,) = [row for (kind, _), row in self.rows.items() if kind == names.KIND_LLM]
        return row

    def held(self) -> float:
        return sum(row.blocked_seconds for row in self.rows.values())


def _run(program: Callable[[], Coroutine[Any, Any, None]]) -> Run:
    """Run ``program`` on a watched loop, the OpenAI and Anthropic SDKs instrumented."""
    registry = CollectorRegistry()
    exporter = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    ap.configure(tracer_provider, MeterProvider(metric_readers=[PrometheusMetricReader(registry=registry)]))
    with instrumented_by(AsyncioInstrumentor(), OpenAIInstrumentor(), AnthropicInstrumentor()):
        started, starved = perf_counter(), run_queue_seconds()
        asyncio.run(program())
        wall, starved = perf_counter() - started, run_queue_seconds() - starved
    rows = {(row.kind, row.name): row for row in scrape.parse(generate_latest(registry).decode())}
    return Run(rows, list(exporter.get_finished_spans()), wall, starved)


@ap.tool
async def fare_lookup(held: list[float]) -> None:
    """The planted culprit: an async tool whose client is synchronous."""
    for _ in range(3):
        started = perf_counter()
        time.sleep(0.05)
        held.append(perf_counter() - started)
        await asyncio.sleep(0.01)


async def _openai_create(server: Any, model: str) -> None:
    client = openai.AsyncOpenAI(base_url=server.base_url, api_key="local")
    stream = await client.chat.completions.create(model=model, messages=MESSAGES, stream=True)  # type: ignore[arg-type]
    async for _ in stream:
        pass


async def _openai_chat_helper(server: Any, model: str) -> None:
    client = openai.AsyncOpenAI(base_url=server.base_url, api_key="local")
    async with client.chat.completions.stream(model=model, messages=MESSAGES) as stream:  # type: ignore[arg-type]
        async for _ in stream:
            pass


async def _openai_responses_helper(server: Any, model: str) -> None:
    client = openai.AsyncOpenAI(base_url=server.base_url, api_key="local")
    async with client.responses.stream(model=model, input="why is my agent slow") as stream:
        await stream.get_final_response()


async def _anthropic_create(server: Any, model: str) -> None:
    client = anthropic.AsyncAnthropic(base_url=server.root_url, api_key="local")
    stream = await client.messages.create(model=model, max_tokens=64, messages=MESSAGES, stream=True)  # type: ignore[arg-type]
    async for _ in stream:
        pass


async def _anthropic_helper(server: Any, model: str) -> None:
    client = anthropic.AsyncAnthropic(base_url=server.root_url, api_key="local")
    async with client.messages.stream(model=model, max_tokens=64, messages=MESSAGES) as stream:  # type: ignore[arg-type]
        async for _ in stream.text_stream:
            pass


async def _anthropic_final_message(server: Any, model: str) -> None:
    client = anthropic.AsyncAnthropic(base_url=server.root_url, api_key="local")
    async with client.messages.stream(model=model, max_tokens=64, messages=MESSAGES) as stream:  # type: ignore[arg-type]
        await stream.get_final_message()


STREAMS: dict[str, Callable[[Any, str], Awaitable[None]]] = {
    "openai-create-stream": _openai_create,
    "openai-chat-stream-helper": _openai_chat_helper,
    "openai-responses-stream-helper": _openai_responses_helper,
    "anthropic-create-stream": _anthropic_create,
    "anthropic-messages-stream": _anthropic_helper,
    "anthropic-get-final-message": _anthropic_final_message,
}


@pytest.mark.parametrize("shape", list(STREAMS))
def test_a_stream_read_by_awaiting_never_holds_the_loop_whatever_wraps_it(shape: str, server: Any) -> None:
    held: list[float] = []

    async def program() -> None:
        await asyncio.gather(fare_lookup(held), *(STREAMS[shape](server, f"{SLOW}{shape}") for _ in range(3)))

    run = _run(program)
    llm = run.llm()
    assert llm.calls == 3 and llm.total_seconds >= 3 * 0.25
    # Awaiting is not holding: at most the monitor's few looks of the SDK's own parsing (and, on a loaded
    # machine, a wait for a CPU a look lands in).
    assert llm.blocked_seconds <= 0.1 * llm.total_seconds + run.starved, (llm.blocked_seconds, run.starved)
    tool = run.rows[("tool", "fare_lookup")]
    # The monitor sees a block's edges up to a look late; on a machine two CPU burners and a second test run
    # share, its thread runs late too (seen: +37 ms over three 50 ms blocks).
    assert 0.75 * sum(held) <= tool.blocked_seconds <= 1.25 * sum(held)
    assert run.held() <= run.wall
    # The streams waited for the culprit's blocks, and that wait is not their own time.
    assert llm.waited_seconds > 0 and llm.own_seconds <= llm.self_seconds


def test_a_synchronous_stream_on_the_loop_holds_it_once_for_its_steps(server: Any) -> None:
    """A synchronous client streamed inside an async tool really holds the loop: the model call is charged
    its own steps and the tool what is left, never the same instants twice."""
    measured: list[float] = []

    @ap.tool
    async def summarise() -> None:
        started = perf_counter()  # the client's construction holds the loop too: the tool's own code
        client = openai.OpenAI(base_url=server.base_url, api_key="local")
        stream = client.chat.completions.create(model="slow-120-sync", messages=MESSAGES, stream=True)  # type: ignore[arg-type]
        for _ in stream:
            time.sleep(0.002)  # the tool's own work on each chunk, between the stream's steps
        measured.append(perf_counter() - started)

    async def program() -> None:
        await summarise()
        await asyncio.sleep(0.05)

    run = _run(program)
    llm, tool = run.llm(), run.rows[("tool", "summarise")]
    assert llm.blocked_seconds >= 0.12  # its request and its chunks, on the loop's thread
    assert llm.blocked_seconds <= llm.total_seconds * (1 + 1e-6)
    both = llm.blocked_seconds + tool.blocked_seconds
    assert 0.8 * measured[0] <= both <= 1.25 * measured[0], (llm.blocked_seconds, tool.blocked_seconds, measured)


@ap.config
def read_settings() -> dict[str, int]:
    time.sleep(0.06)
    return {"retries": 3}


@ap.tool
def plan_trip() -> int:
    """A synchronous tool on the loop's thread that calls a synchronous loader: both hold the loop."""
    time.sleep(0.04)
    return len(read_settings())


def test_nested_synchronous_operations_each_hold_the_loop_for_their_own_code_only() -> None:
    async def program() -> None:
        for _ in range(3):
            plan_trip()
            await asyncio.sleep(0.01)

    run = _run(program)
    config, tool = run.rows[("config", "read_settings")], run.rows[("tool", "plan_trip")]
    assert config.blocked_seconds == pytest.approx(config.total_seconds, rel=0.02)
    # Its own 40 ms a call, not again the loader's 60 ms inside it.
    assert tool.blocked_seconds == pytest.approx(tool.total_seconds - config.total_seconds, rel=0.1, abs=0.01)
    assert run.held() <= run.wall


@ap.tool
def pages(count: int) -> Iterator[int]:
    """A synchronous generator: its steps run its own code, the consumer's awaits between them do not."""
    for page in range(count):
        time.sleep(0.025)
        yield page


def test_a_generator_consumed_between_awaits_holds_the_loop_only_for_its_steps() -> None:
    async def program() -> None:
        for _ in pages(4):
            await asyncio.sleep(0.1)  # the consumer awaits: the loop is free

    run = _run(program)
    row = run.rows[("tool", "pages")]
    assert row.total_seconds >= 0.4
    assert 0.09 <= row.blocked_seconds <= 0.16  # four steps of 25 ms, not its 0.5 s of life


@ap.llm(model="planner-model", provider="openai")
async def plan() -> None:
    await asyncio.sleep(0.02)


@ap.agent
async def planner() -> None:
    """An agent with children, whose own await (between its calls) waits out another task's block."""
    await plan()
    await asyncio.sleep(0.03)  # its own wait: the culprit holds the loop meanwhile
    await plan()


@ap.tool
async def culprit() -> None:
    await asyncio.sleep(0.035)
    time.sleep(0.15)


def test_waiting_for_a_held_loop_is_the_holders_cost_for_an_operation_with_children() -> None:
    async def program() -> None:
        await asyncio.gather(planner(), culprit())

    run = _run(program)
    agent = run.rows[("agent", "planner")]
    # The block fell in the agent's own await, not in its model calls: the agent waited, and its own
    # time (self time less that wait) is what it did itself.
    assert agent.waited_seconds >= 0.08
    assert agent.own_seconds <= agent.self_seconds - 0.08
    (span,) = [span for span in run.spans if span.name == "invoke_agent planner"]
    assert span.attributes[names.EVENT_LOOP_WAITED_TIME] == pytest.approx(agent.waited_seconds)
    assert run.held() <= run.wall
