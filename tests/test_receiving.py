"""What ``run`` receives, piece by piece: OTLP metrics into the same rows as a scrape, quantiles within the
histogram's min and max, forked workers' deltas adding up, the waterfall's self time, the receiver's
answers, the saved-run file, and the environment ``run`` gives its command."""

from __future__ import annotations

import gzip
import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.exporter.otlp.proto.common.metrics_encoder import encode_metrics
from opentelemetry.exporter.prometheus import PrometheusMetricReader
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span
from opentelemetry.sdk.metrics import Counter, Histogram, MeterProvider
from opentelemetry.sdk.metrics.export import AggregationTemporality, InMemoryMetricReader
from prometheus_client import CollectorRegistry, generate_latest

from otel_agentperf.command import cli
from otel_agentperf.conventions import names
from otel_agentperf.conventions.instruments import catalogue
from otel_agentperf.receiving import received, saved
from otel_agentperf.receiving.receiver import Receiver
from otel_agentperf.views import otlp, scrape, spans, waterfall
from otel_agentperf.views.run import child_environment, marked_environment

TOOL = catalogue(False).durations[names.KIND_TOOL]
DELTA = {Counter: AggregationTemporality.DELTA, Histogram: AggregationTemporality.DELTA}


def _record(provider: MeterProvider, values: list[float], error: bool = False) -> None:
    meter = provider.get_meter(names.SCOPE_NAME)
    histogram = meter.create_histogram(TOOL.name, unit=TOOL.unit, explicit_bucket_boundaries_advisory=TOOL.boundaries)
    for value in values:
        attributes = {names.GEN_AI_TOOL_NAME: "search", names.GEN_AI_OPERATION_NAME: "execute_tool"}
        histogram.record(value, {**attributes, names.ERROR_TYPE: "TimeoutError"} if error else attributes)


def _otlp(values: list[float], temporality: dict[type, AggregationTemporality] | None = None) -> Any:
    """What an OTLP exporter sends for ``values`` recorded in the real tool histogram."""
    reader = InMemoryMetricReader(preferred_temporality=temporality or DELTA)
    provider = MeterProvider(metric_readers=[reader])
    _record(provider, values)
    data = reader.get_metrics_data()
    provider.shutdown()
    return encode_metrics(data)


def test_otlp_metrics_give_the_rows_a_scrape_of_the_same_metrics_gives() -> None:
    values = [0.011, 0.05, 0.05, 0.3, 2.5]
    registry = CollectorRegistry()
    provider = MeterProvider(metric_readers=[PrometheusMetricReader(registry=registry)])
    _record(provider, values)
    _record(provider, [0.2], error=True)
    (scraped,) = scrape.parse(generate_latest(registry).decode())
    provider.shutdown()
    reader = InMemoryMetricReader(preferred_temporality=DELTA)
    provider = MeterProvider(metric_readers=[reader])
    _record(provider, values)
    _record(provider, [0.2], error=True)
    (row,) = otlp.rows([encode_metrics(reader.get_metrics_data())])
    provider.shutdown()
    assert (row.kind, row.name, row.calls, row.errors) == (scraped.kind, scraped.name, 6, 1)
    assert row.total_seconds == pytest.approx(scraped.total_seconds)
    assert row.buckets == scraped.buckets
    assert (row.minimum, row.maximum) == (0.011, 2.5)  # what only OTLP carries


def test_quantiles_from_otlp_never_leave_the_histograms_min_and_max() -> None:
    # All inside one wide bucket (0.32 s to 0.64 s): the bucket alone would allow 320 to 640 ms.
    values = [0.50, 0.51, 0.52, 0.53, 0.55]
    (row,) = otlp.rows([_otlp(values)])
    for key in ("p50", "p95", "p99"):
        low, high = row.bounds[key]
        assert 0.50 <= low <= row.quantiles[key] <= high <= 0.55  # type: ignore[operator]
        assert not row.quantile_text(key).startswith(("<", ">"))
    (slow,) = otlp.rows([_otlp([200.0, 300.0])])  # beyond the last bucket: known only as "> 81920 ms" before
    assert 200.0 <= slow.quantiles["p99"] <= 300.0  # type: ignore[operator]


def test_deltas_from_several_processes_add_up_and_cumulative_points_count_once() -> None:
    worker_a, worker_b = _otlp([0.1, 0.2]), _otlp([0.3])
    (row,) = otlp.rows([worker_a, worker_b])
    assert (row.calls, row.total_seconds, row.minimum, row.maximum) == (3, pytest.approx(0.6), 0.1, 0.3)
    cumulative = {Counter: AggregationTemporality.CUMULATIVE, Histogram: AggregationTemporality.CUMULATIVE}
    reader = InMemoryMetricReader(preferred_temporality=cumulative)
    provider = MeterProvider(metric_readers=[reader])
    _record(provider, [0.1])
    first = encode_metrics(reader.get_metrics_data())
    _record(provider, [0.2])
    second = encode_metrics(reader.get_metrics_data())  # the first value again, and the new one
    provider.shutdown()
    (row,) = otlp.rows([first, second])
    assert (row.calls, row.total_seconds) == (2, pytest.approx(0.3))


def _span(name: str, span_id: int, parent: int, start_ms: float, end_ms: float) -> Span:
    return Span(
        trace_id=b"\x01" * 16,
        span_id=span_id.to_bytes(8, "big"),
        parent_span_id=parent.to_bytes(8, "big") if parent else b"",
        name=name,
        start_time_unix_nano=int(start_ms * 1e6),
        end_time_unix_nano=int(end_ms * 1e6),
    )


def _traces(*spans: Span) -> ExportTraceServiceRequest:
    return ExportTraceServiceRequest(resource_spans=[ResourceSpans(scope_spans=[ScopeSpans(spans=list(spans))])])


def test_self_time_counts_overlapping_children_once_and_orphans_are_roots() -> None:
    request = _traces(
        _span("invoke_agent Planner", 1, 0, 0, 100),
        _span("execute_tool a", 2, 1, 10, 50),  # a and b run together from 30 to 50 ms
        _span("execute_tool b", 3, 1, 30, 70),
        _span("chat m", 4, 9, 80, 90),  # its parent never arrived
    )
    (trace,) = spans.traces([request])
    planner, orphan = trace.roots
    assert (planner.name, orphan.name) == ("invoke_agent Planner", "chat m")
    assert planner.self_time == 40_000_000  # 100 ms less the 60 ms from 10 to 70
    text = waterfall.render([request], 1)
    assert text.startswith("Slowest traces (1 of 1; ~ in a bar: waited for an event loop other code held; path ms")
    assert "4 spans" in text
    lines = text.splitlines()[4:]
    assert [line[60:].split("  |")[0].rstrip() for line in lines] == [
        "invoke_agent Planner",
        "  execute_tool a",
        "  execute_tool b",
        "chat m",
    ]
    assert lines[0].split()[:3] == ["0.0", "100.0", "40.0"]
    # The critical path: b ended last, and a ended after b started, so a decided nothing; the planner's own
    # instants on the path are 0-30 and 70-100 ms, b's whole 40 ms; the orphan is a path of its own.
    assert [line[48:58].strip() for line in lines] == ["60.0", "", "40.0", "10.0"]


def test_a_span_that_waited_for_a_held_loop_shows_the_wait_as_a_marked_part() -> None:
    """A planner whose own time was mostly another request's block on its loop: the waterfall says so."""
    planner = _span("invoke_agent Planner", 1, 0, 0, 400)
    planner.attributes.append(
        KeyValue(key=names.EVENT_LOOP_WAITED_TIME, value=AnyValue(double_value=0.3))  # 300 of its 400 ms
    )
    text = waterfall.render([_traces(planner, _span("chat m", 2, 1, 380, 400))], 1)
    planner_line, chat_line = text.splitlines()[4:6]
    assert planner_line.split()[:4] == ["0.0", "400.0", "380.0", "300.0"]
    bar = planner_line.split("|")[1]
    assert bar.count("~") == 30 and bar.count("#") == 10  # 300 of 400 ms over 40 columns
    assert "~" not in chat_line.split("|")[1] and chat_line.split()[:3] == ["380.0", "20.0", "20.0"]


def _post(url: str, body: bytes, **headers: str) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_the_receiver_answers_as_a_collector_and_saves_what_it_received(tmp_path: Path) -> None:
    request = _otlp([0.1])
    path = tmp_path / "run.otlp"
    with path.open("wb") as stream, Receiver(received.Received(stream)) as receiver:
        status, body = _post(
            f"{receiver.endpoint}/v1/metrics",
            gzip.compress(request.SerializeToString()),
            **{"Content-Type": "application/x-protobuf", "Content-Encoding": "gzip"},
        )
        assert status == 200
        assert ExportMetricsServiceResponse.FromString(body) == ExportMetricsServiceResponse()
        as_json = _post(f"{receiver.endpoint}/v1/traces", b"{}", **{"Content-Type": "application/json"})
        assert as_json[0] == 415
        assert _post(f"{receiver.endpoint}/v1/logs", b"", **{"Content-Type": "application/x-protobuf"})[0] == 404
        garbage = _post(f"{receiver.endpoint}/v1/traces", b"\xff\xff", **{"Content-Type": "application/x-protobuf"})
        assert garbage[0] == 400
    loaded = received.load(path.read_bytes())
    assert loaded.metric_requests() == [request] and loaded.trace_requests() == []


def test_a_damaged_saved_run_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "cut.otlp"
    payload = _otlp([0.1]).SerializeToString()
    path.write_bytes(saved.MAGIC + f"metrics {len(payload)}\n".encode() + payload[:-3])
    for command in (["report", "--file", str(path)], ["traces", "--file", str(path)]):
        assert cli.main(command) == 2
        error = capsys.readouterr().err
        assert error.startswith(f"otel-agentperf: {path}: record at byte ") and error.count("\n") == 1


def test_report_file_reads_a_saved_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "saved.otlp"
    with path.open("wb") as stream:
        keep = received.Received(stream)
        keep.add("metrics", _otlp([0.1, 0.2]).SerializeToString())
    assert cli.main(["report", "--file", str(path), "--format", "json"]) == 0
    (operation,) = json.loads(capsys.readouterr().out)["operations"]
    assert (operation["kind"], operation["name"], operation["calls"]) == ("tool", "search", 2)


def test_the_commands_environment_keeps_what_does_not_conflict() -> None:
    user = {
        "OTEL_TRACES_EXPORTER": "console,otlp",
        "OTEL_METRICS_EXPORTER": "prometheus",
        "OTEL_EXPORTER_OTLP_ENDPOINT": "https://collector.example:4318",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "https://collector.example:4318/v1/traces",
        "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
        "OTEL_LOGS_EXPORTER": "otlp",
        "OTEL_SERVICE_NAME": "support",
        "OTEL_METRIC_EXPORT_INTERVAL": "60000",
        "OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION": "base2_exponential_bucket_histogram",
    }
    env = child_environment(user, "http://127.0.0.1:5555")
    assert env["OTEL_TRACES_EXPORTER"] == "otlp_proto_http,console"
    assert env["OTEL_METRICS_EXPORTER"] == "otlp_proto_http,prometheus"
    assert env["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"] == "http://127.0.0.1:5555/v1/traces"
    assert env["OTEL_EXPORTER_OTLP_METRICS_ENDPOINT"] == "http://127.0.0.1:5555/v1/metrics"
    assert env["OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"] == env["OTEL_EXPORTER_OTLP_METRICS_PROTOCOL"] == "http/protobuf"
    assert env["OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE"] == "delta"
    assert env["OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION"] == "explicit_bucket_histogram"
    # Long enough for the SDK's last collection at exit on a loaded machine; every second for the live view.
    assert env["OTEL_METRIC_EXPORT_INTERVAL"] == "10000"
    assert child_environment(user, "http://127.0.0.1:5555", live=True)["OTEL_METRIC_EXPORT_INTERVAL"] == "1000"
    # The user's own: logs still go to their collector, over their protocol; their service name stays.
    assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == "https://collector.example:4318"
    assert (env["OTEL_EXPORTER_OTLP_PROTOCOL"], env["OTEL_LOGS_EXPORTER"]) == ("grpc", "otlp")
    assert env["OTEL_SERVICE_NAME"] == "support"
    assert child_environment({}, "http://127.0.0.1:5555")["OTEL_LOGS_EXPORTER"] == "none"


def _spans_of(run_indexes: list[str | None]) -> ExportTraceServiceRequest:
    """One trace request holding a resource per entry, each marked with that run index (or not at all)."""
    request = ExportTraceServiceRequest()
    for number, index in enumerate(run_indexes):
        marks = [] if index is None else [KeyValue(key=names.RUN_INDEX, value=AnyValue(string_value=index))]
        request.resource_spans.append(
            ResourceSpans(
                resource=Resource(attributes=marks),
                scope_spans=[ScopeSpans(spans=[Span(name=f"span {number}")])],
            )
        )
    return request


def test_runs_split_what_was_received_by_the_run_index_of_each_resource() -> None:
    keep = received.Received()
    keep.add("traces", _spans_of(["2"]).SerializeToString())
    keep.add("traces", _spans_of(["1", "2", "1"]).SerializeToString())  # a collector batched two runs
    keep.add("metrics", _otlp([0.1]).SerializeToString())  # no mark: the SDK's resource alone
    runs = keep.runs()
    assert [run.index for run in runs] == [0, 1, 2]
    names_by_run = {
        run.index: [
            [span.name for each in request.resource_spans for scope in each.scope_spans for span in scope.spans]
            for request in run.trace_requests()
        ]
        for run in runs
    }
    assert names_by_run == {0: [], 1: [["span 0", "span 2"]], 2: [["span 0"], ["span 1"]]}
    assert runs[0].metric_requests() == keep.metric_requests() and runs[1].metric_requests() == []


def test_a_saved_run_without_marks_loads_as_one_run_of_index_0(tmp_path: Path) -> None:
    path = tmp_path / "before-repeat.otlp"
    path.write_bytes(
        saved.MAGIC
        + b"".join(
            f"{signal} {len(body)}\n".encode() + body + b"\n"
            for signal, body in [
                ("traces", _spans_of([None, None]).SerializeToString()),
                ("metrics", _otlp([0.1, 0.2]).SerializeToString()),
            ]
        )
    )
    (only,) = received.load(path.read_bytes()).runs()
    assert only.index == 0 and len(only.trace_requests()) == len(only.metric_requests()) == 1


def test_each_repeated_run_is_marked_after_the_users_own_resource_attributes() -> None:
    assert marked_environment({}, 2)["OTEL_RESOURCE_ATTRIBUTES"] == "agentperf.run.index=2"
    user = {"OTEL_RESOURCE_ATTRIBUTES": "team=orders,agentperf.run.index=9,", "OTEL_SERVICE_NAME": "support"}
    env = marked_environment(user, 3)
    assert env["OTEL_RESOURCE_ATTRIBUTES"] == "team=orders,agentperf.run.index=9,agentperf.run.index=3"
    assert env["OTEL_SERVICE_NAME"] == "support"
