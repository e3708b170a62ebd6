"""The recording primitive: spans, histograms, errors, in-flight counts and every call shape."""

from __future__ import annotations

import asyncio
import gc
import inspect
import logging
import time
from collections.abc import AsyncIterator, Iterator

import pytest
from opentelemetry import trace
from opentelemetry.instrumentation.utils import suppress_instrumentation
from opentelemetry.sdk.metrics.export import Histogram
from opentelemetry.trace import SpanKind, StatusCode

import otel_agentperf as ap
from otel_agentperf.conventions import buckets, names
from otel_agentperf.recording import state
from otel_agentperf.runtime import settings
from tests.conftest import MakeRecorded, Recorded


class QuotaExceeded(Exception):
    pass


def test_sync_call_records_span_and_duration_with_semconv_buckets(recorded: Recorded) -> None:
    @ap.agent(name="planner")
    def plan(goal: str) -> str:
        time.sleep(0.02)
        return goal.upper()

    assert plan("ship") == "SHIP"

    span = recorded.span("invoke_agent planner")
    assert span.kind is SpanKind.INTERNAL
    assert span.attributes[names.GEN_AI_OPERATION_NAME] == "invoke_agent"
    assert span.attributes[names.GEN_AI_AGENT_NAME] == "planner"
    assert span.status.status_code is StatusCode.UNSET
    point = recorded.histogram_point("gen_ai.invoke_agent.duration", **{names.GEN_AI_AGENT_NAME: "planner"})
    assert point.count == 1
    assert list(point.explicit_bounds) == [0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 6.4, 12.8, 25.6, 51.2, 102.4, 204.8, 409.6]
    assert dict(point.attributes) == {"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "planner"}
    # The call's own time, measured inside its span (a millisecond allowed for the span's other clock):
    # a pause of the machine while the operation records (a GC pass, say) lengthens the span alone.
    span_seconds = (span.end_time - span.start_time) / 1e9
    assert 0.02 <= point.sum <= span_seconds + 0.001


def test_tool_metric_uses_client_buckets_and_names_the_enclosing_agent(recorded: Recorded) -> None:
    @ap.tool
    def search(query: str) -> list[str]:
        return [query]

    @ap.agent(name="researcher")
    def research() -> list[str]:
        return search("otel")

    assert research() == ["otel"]
    assert search("alone") == ["alone"]

    agent_span = recorded.span("invoke_agent researcher")
    tool_spans = [s for s in recorded.spans() if s.name == "execute_tool search"]
    assert len(tool_spans) == 2
    nested = [s for s in tool_spans if s.parent is not None]
    assert len(nested) == 1 and nested[0].parent.span_id == agent_span.context.span_id
    assert nested[0].context.trace_id == agent_span.context.trace_id
    inside = recorded.histogram_point("gen_ai.execute_tool.duration", **{"gen_ai.agent.name": "researcher"})
    assert inside.count == 1
    assert list(inside.explicit_bounds) == list(buckets.CLIENT_DURATION)
    alone = [
        p for p in recorded.histogram_points("gen_ai.execute_tool.duration") if "gen_ai.agent.name" not in p.attributes
    ]
    assert len(alone) == 1 and alone[0].attributes["gen_ai.tool.name"] == "search"


def test_exception_is_reraised_unchanged_and_recorded_as_error_type(recorded: Recorded) -> None:
    error = QuotaExceeded("no budget")

    @ap.tool
    def spend() -> None:
        raise error

    with pytest.raises(QuotaExceeded) as caught:
        spend()

    assert caught.value is error
    span = recorded.span("execute_tool spend")
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes["error.type"] == "QuotaExceeded"
    assert "no budget" not in (span.status.description or "")  # messages may hold content: never exported
    point = recorded.histogram_point("gen_ai.execute_tool.duration", **{"error.type": "QuotaExceeded"})
    assert point.count == 1


def test_error_types_past_the_cap_become_other(recorded: Recorded) -> None:
    @ap.tool
    def fail(exc_class: type[Exception]) -> None:
        raise exc_class()

    classes = [type(f"Error{i}", (Exception,), {}) for i in range(70)]
    for exc_class in classes:
        with pytest.raises(exc_class):
            fail(exc_class)
    error_types = {p.attributes["error.type"] for p in recorded.histogram_points("gen_ai.execute_tool.duration")}
    assert "_OTHER" in error_types
    assert "Error0" in error_types and "Error69" not in error_types
    assert len(error_types) == 65


def test_coroutine_is_lazy_and_stays_a_coroutine_function(recorded: Recorded) -> None:
    @ap.agent(name="async-agent")
    async def answer(x: int) -> int:
        await asyncio.sleep(0.01)
        return x + 1

    assert inspect.iscoroutinefunction(answer)
    pending = answer(1)
    assert inspect.iscoroutine(pending)
    assert recorded.spans() == []
    assert asyncio.run(pending) == 2
    span = recorded.span("invoke_agent async-agent")
    assert (span.end_time - span.start_time) / 1e9 >= 0.01


def test_coroutine_cancellation_is_recorded_and_propagates(recorded: Recorded) -> None:
    @ap.tool
    async def slow() -> None:
        await asyncio.sleep(10)

    async def main() -> None:
        task = asyncio.create_task(slow())
        await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    assert recorded.span("execute_tool slow").attributes["error.type"] == "CancelledError"


def test_generator_operation_spans_its_whole_consumption(recorded: Recorded) -> None:
    @ap.history(store="jsonl")
    def read_messages(n: int) -> Iterator[int]:
        yield from range(n)

    generator = read_messages(3)
    assert inspect.isgenerator(generator)
    assert recorded.spans() == []
    assert next(generator) == 0
    assert recorded.spans() == []
    assert list(generator) == [1, 2]
    span = recorded.span("history_read jsonl")
    assert span.attributes[names.HISTORY_OPERATION] == "read"
    assert recorded.histogram_point("agentperf.history.operation.duration").count == 1


def test_generator_span_is_current_only_inside_the_generator(recorded: Recorded) -> None:
    @ap.tool
    def lookup() -> str:
        return "x"

    @ap.workflow(name="steps")
    def steps() -> Iterator[str]:
        yield lookup()
        yield lookup()

    seen_outside = []
    for _ in steps():
        seen_outside.append(trace.get_current_span().get_span_context().is_valid)
    assert seen_outside == [False, False]
    workflow_span = recorded.span("invoke_workflow steps")
    tools = [s for s in recorded.spans() if s.name == "execute_tool lookup"]
    assert len(tools) == 2
    assert all(s.parent is not None and s.parent.span_id == workflow_span.context.span_id for s in tools)


def test_generator_send_throw_and_return_value_are_delegated(recorded: Recorded) -> None:
    @ap.workflow(name="echo")
    def echo() -> Iterator[str]:
        received = yield "ready"
        try:
            yield f"got {received}"
        except ValueError:
            yield "recovered"
        return "done"

    generator = echo()
    assert next(generator) == "ready"
    assert generator.send("ping") == "got ping"
    assert generator.throw(ValueError("x")) == "recovered"
    with pytest.raises(StopIteration) as stop:
        next(generator)
    assert stop.value.value == "done"
    assert recorded.span("invoke_workflow echo").status.status_code is StatusCode.UNSET


def test_generator_closed_early_or_collected_ends_the_operation(recorded: Recorded) -> None:
    @ap.history(store="mem", operation="read")
    def numbers() -> Iterator[int]:
        yield from range(100)

    closed = numbers()
    next(closed)
    closed.close()
    assert len(recorded.spans()) == 1

    abandoned = numbers()
    next(abandoned)
    del abandoned
    gc.collect()
    spans = recorded.spans()
    assert len(spans) == 2
    assert all(s.status.status_code is StatusCode.UNSET for s in spans)
    assert recorded.histogram_point("agentperf.history.operation.duration").count == 2


def test_generator_error_mid_way_is_recorded(recorded: Recorded) -> None:
    @ap.history(store="broken", operation="read")
    def broken() -> Iterator[int]:
        yield 1
        raise OSError("disk gone")

    generator = broken()
    assert next(generator) == 1
    with pytest.raises(OSError, match="disk gone"):
        next(generator)
    assert recorded.span("history_read broken").attributes["error.type"] == "OSError"


def test_async_generator_exhausted_closed_and_failing(recorded: Recorded) -> None:
    @ap.agent(name="streamer")
    async def stream(n: int, fail: bool = False) -> AsyncIterator[int]:
        for i in range(n):
            await asyncio.sleep(0)
            yield i
        if fail:
            raise RuntimeError("cut")

    assert inspect.isasyncgenfunction(stream)

    async def main() -> None:
        assert [i async for i in stream(3)] == [0, 1, 2]
        partial = stream(10)
        assert await partial.__anext__() == 0
        await partial.aclose()
        with pytest.raises(RuntimeError, match="cut"):
            async for _ in stream(2, fail=True):
                pass

    asyncio.run(main())
    spans = [s for s in recorded.spans() if s.name == "invoke_agent streamer"]
    assert len(spans) == 3
    assert sorted(str(s.attributes.get("error.type")) for s in spans) == ["None", "None", "RuntimeError"]


def test_in_flight_count_rises_during_a_call_and_returns_to_zero(recorded: Recorded) -> None:
    observed: list[int | float] = []

    @ap.agent(name="busy")
    def busy() -> None:
        observed.append(recorded.gauge("agentperf.operations.active", **{names.OPERATION_KIND: "agent"}))

    busy()
    assert observed == [1]
    assert recorded.gauge("agentperf.operations.active", **{names.OPERATION_KIND: "agent"}) == 0


def test_suppressed_instrumentation_records_nothing(recorded: Recorded) -> None:
    @ap.tool
    def quiet() -> int:
        return 7

    with suppress_instrumentation():
        assert quiet() == 7
    assert recorded.spans() == []


def test_a_failing_recorder_never_reaches_the_app(recorded: Recorded, caplog: pytest.LogCaptureFixture) -> None:
    class BrokenHistogram:
        def record(self, *args: object, **kwargs: object) -> None:
            raise RuntimeError("exporter bug")

    state.telemetry().recorder._durations[names.KIND_TOOL] = BrokenHistogram()  # type: ignore[assignment]
    calls = []

    @ap.tool
    def work(x: int) -> int:
        calls.append(x)
        return x * 3

    with caplog.at_level(logging.DEBUG, logger="otel_agentperf"):
        assert work(2) == 6
        assert work(3) == 9
    assert calls == [2, 3]
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "recording tool operation" in warnings[0].getMessage()
    assert len(recorded.spans()) == 2  # spans still end


def test_a_failing_start_calls_the_function_exactly_once(recorded: Recorded, caplog: pytest.LogCaptureFixture) -> None:
    class BrokenTracer:
        def start_span(self, *args: object, **kwargs: object) -> None:
            raise RuntimeError("tracer bug")

    state.telemetry().tracer = BrokenTracer()  # type: ignore[assignment]
    calls = []

    @ap.agent(name="fragile")
    def work() -> str:
        calls.append(1)
        return "ok"

    with caplog.at_level(logging.WARNING, logger="otel_agentperf"):
        assert work() == "ok"
    assert calls == [1]
    assert any("starting agent operation" in r.getMessage() for r in caplog.records)


def test_latest_experimental_semconv_renames_the_llm_duration(
    recorded: Recorded, monkeypatch: pytest.MonkeyPatch, make_recorded: MakeRecorded
) -> None:
    @ap.llm(model="m1", provider="openai")
    def complete() -> str:
        return "hi"

    complete()
    assert recorded.histogram_point("gen_ai.client.operation.duration").count == 1

    monkeypatch.setenv("OTEL_SEMCONV_STABILITY_OPT_IN", "http, gen_ai_latest_experimental")
    settings.reload()
    latest = make_recorded()
    complete()
    assert latest.histogram_point("gen_ai.client.inference.duration").count == 1
    assert latest.histogram_points("gen_ai.client.operation.duration") == []


def test_llm_without_a_provider_is_other_and_its_function_stays_off_the_metric(recorded: Recorded) -> None:
    @ap.llm
    def complete() -> str:
        return "hi"

    complete()
    span = recorded.span("chat")
    assert span.attributes[names.GEN_AI_PROVIDER_NAME] == names.OTHER
    assert span.attributes[names.CODE_FUNCTION].endswith("complete")  # on the span, to tell calls apart
    point = recorded.histogram_point("gen_ai.client.operation.duration")
    assert point.attributes[names.GEN_AI_PROVIDER_NAME] == names.OTHER
    assert names.CODE_FUNCTION not in point.attributes


def test_agent_takes_the_provider_of_its_first_llm_call_on_its_span_only(recorded: Recorded) -> None:
    @ap.llm(model="m1", provider="anthropic")
    def first() -> str:
        return "a"

    @ap.llm(model="m2", provider="openai")
    def second() -> str:
        return "b"

    @ap.agent(name="coach")
    def run() -> str:
        return first() + second()

    @ap.agent(name="idle")
    def idle() -> str:
        return "nothing to ask"

    run()
    idle()
    assert recorded.span("invoke_agent coach").attributes[names.GEN_AI_PROVIDER_NAME] == "anthropic"
    assert names.GEN_AI_PROVIDER_NAME not in recorded.span("invoke_agent idle").attributes  # none known
    point = recorded.histogram_point("gen_ai.invoke_agent.duration", **{names.GEN_AI_AGENT_NAME: "coach"})
    assert names.GEN_AI_PROVIDER_NAME not in point.attributes  # not one of that metric's attributes


def test_create_agent_is_a_client_span_with_the_provider_the_app_names(recorded: Recorded) -> None:
    @ap.create_agent(provider="openai")
    class Helper:
        pass

    @ap.create_agent
    def build() -> str:
        return "agent"

    Helper()
    build()
    span = recorded.span("create_agent Helper")
    assert span.kind is SpanKind.CLIENT
    assert span.attributes[names.GEN_AI_PROVIDER_NAME] == "openai"
    assert recorded.span("create_agent build").kind is SpanKind.CLIENT
    point = recorded.histogram_point("agentperf.create_agent.duration", **{names.GEN_AI_AGENT_NAME: "Helper"})
    assert names.GEN_AI_PROVIDER_NAME not in point.attributes


def test_workflow_metric_has_only_the_workflow_name_and_error_type(recorded: Recorded) -> None:
    @ap.workflow(name="triage")
    def triage(fail: bool) -> None:
        if fail:
            raise ValueError("bad input")

    triage(False)
    with pytest.raises(ValueError):
        triage(True)
    keys = {frozenset(point.attributes) for point in recorded.histogram_points("gen_ai.invoke_workflow.duration")}
    assert keys == {frozenset({names.GEN_AI_WORKFLOW_NAME}), frozenset({names.GEN_AI_WORKFLOW_NAME, names.ERROR_TYPE})}
    assert {span.attributes[names.GEN_AI_OPERATION_NAME] for span in recorded.spans()} == {"invoke_workflow"}


def _exemplar_spans(recorded: Recorded) -> dict[str, dict[tuple[tuple[str, object], ...], set[int]]]:
    """Per histogram, the span ids its points' exemplars name, by point attributes; from one collection
    (the SDK hands each exemplar out once)."""
    return {
        name: {
            tuple(sorted(point.attributes.items())): {exemplar.span_id for exemplar in point.exemplars}
            for point in metric.data.data_points
        }
        for name, metric in recorded.metrics().items()
        if isinstance(metric.data, Histogram)
    }


def test_every_histogram_exemplar_names_the_span_of_the_operation_it_measured(recorded: Recorded) -> None:
    """Grafana opens a point's exemplar as a trace: a tool's duration must lead to the tool's span, not to
    its agent's (what was current as the tool finished), and an operation with no parent has one too."""

    @ap.tool
    def lookup(topic: str) -> str:
        return topic

    @ap.agent(name="scout")
    def scout() -> str:
        return lookup("nested")

    assert scout() == "nested"
    assert lookup("alone") == "alone"

    agent = recorded.span("invoke_agent scout")
    nested, alone = sorted(
        (span for span in recorded.spans() if span.name == "execute_tool lookup"), key=lambda s: s.parent is None
    )
    assert nested.parent is not None and nested.parent.span_id == agent.context.span_id and alone.parent is None
    exemplars = _exemplar_spans(recorded)
    by_agent = {
        names.GEN_AI_AGENT_NAME in dict(key): ids for key, ids in exemplars["gen_ai.execute_tool.duration"].items()
    }
    assert by_agent == {True: {nested.context.span_id}, False: {alone.context.span_id}}
    for metric in (
        "gen_ai.invoke_agent.duration",
        "gen_ai.invoke_agent.inference_calls",
        "gen_ai.invoke_agent.tool_calls",
    ):
        assert list(exemplars[metric].values()) == [{agent.context.span_id}], metric
    measured = {agent.context.span_id, nested.context.span_id, alone.context.span_id}
    for metric, points in exemplars.items():  # whatever else was recorded: never another span, never none
        assert all(ids and ids <= measured for ids in points.values()), metric
