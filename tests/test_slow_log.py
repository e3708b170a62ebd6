"""Slow operations become one OpenTelemetry log record each, in their span's trace, rate-limited."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

import pytest
from opentelemetry._logs import SeverityNumber, get_logger_provider, set_logger_provider
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import otel_agentperf as ap
from otel_agentperf.conventions import names
from otel_agentperf.recording import slow_log
from otel_agentperf.runtime import settings

# The global logger provider can be set once per process: this module's exporter, emptied by each test,
# goes on whichever SDK provider is global (another test module may have set one first).
_LOGS = InMemoryLogRecordExporter()
if not isinstance(get_logger_provider(), LoggerProvider):
    set_logger_provider(LoggerProvider())
_global = get_logger_provider()
assert isinstance(_global, LoggerProvider)
_global.add_log_record_processor(SimpleLogRecordProcessor(_LOGS))


@pytest.fixture
def spans(monkeypatch: pytest.MonkeyPatch) -> Iterator[InMemorySpanExporter]:
    monkeypatch.setenv(settings.SLOW_MS_ENV, "tool=30,config=5")
    settings.reload()
    exporter = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    ap.configure(tracer_provider, MeterProvider())
    _LOGS.clear()
    yield exporter


@ap.tool
def lookup(seconds: float) -> str:
    time.sleep(seconds)
    return "found"


def _records() -> list[object]:
    return [data.log_record for data in _LOGS.get_finished_logs()]


def test_an_operation_over_its_kinds_threshold_is_one_log_record_in_its_trace(
    spans: InMemorySpanExporter,
) -> None:
    assert lookup(0.001) == "found"
    assert _records() == []
    assert lookup(0.05) == "found"
    (record,) = _records()
    span = spans.get_finished_spans()[-1]
    attributes = dict(record.attributes or {})
    assert (record.trace_id, record.span_id) == (span.context.trace_id, span.context.span_id)
    assert record.severity_number is SeverityNumber.WARN
    duration = ((span.end_time or 0) - (span.start_time or 0)) / 1e9
    assert attributes[names.SLOW_OPERATION_DURATION] == pytest.approx(duration, abs=0.002)
    assert attributes[names.SELF_TIME] == pytest.approx(span.attributes[names.SELF_TIME])
    assert attributes[names.SLOW_THRESHOLD] == 0.03
    assert attributes[names.GEN_AI_TOOL_NAME] == "lookup" and attributes[names.OPERATION_KIND] == "tool"
    assert record.body.startswith("slow tool: execute_tool lookup took ")


def test_a_slow_operation_is_logged_at_most_once_per_interval_saying_how_many_were_left_out(
    spans: InMemorySpanExporter, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(slow_log, "INTERVAL_S", 0.3)
    for _ in range(3):
        lookup(0.035)
    assert len(_records()) == 1
    time.sleep(0.3)
    lookup(0.035)
    first, second = _records()
    assert first.attributes[names.SLOW_LEFT_OUT] == 0
    assert second.attributes[names.SLOW_LEFT_OUT] == 2


@pytest.mark.parametrize(("value", "logged"), [("off", 0), ("tool=robot", 0), ("robot=5", 0), ("20", 1)])
def test_the_setting_is_off_a_number_for_every_kind_or_kind_pairs_and_a_bad_pair_is_named_once(
    value: str, logged: int, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv(settings.SLOW_MS_ENV, value)
    with caplog.at_level(logging.WARNING, logger="otel_agentperf"):
        settings.reload()
    ap.configure(TracerProvider(), MeterProvider())
    _LOGS.clear()
    lookup(0.025)  # under the default 10 s for tools, over 20 ms
    assert len(_records()) == logged
    bad = [r.getMessage() for r in caplog.records if settings.SLOW_MS_ENV in r.getMessage()]
    assert len(bad) == (1 if "=" in value and value != "20" else 0)
