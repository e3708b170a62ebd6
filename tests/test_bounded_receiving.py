"""``run`` in bounded memory: metrics digested per series give the rows every export gives, traces are kept
to the slowest and a sample whatever their number, a saved run is read one record at a time, and the
receiver refuses a body past its limit (sent or decompressed) with 413, in one line, without inflating it."""

from __future__ import annotations

import gzip
import io
import json
import subprocess
import sys
import zlib
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.exporter.otlp.proto.common.metrics_encoder import encode_metrics
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import AggregationTemporality, InMemoryMetricReader

from otel_agentperf.command import cli
from otel_agentperf.conventions import names
from otel_agentperf.receiving import finished_traces, received, saved, trace_keeper
from otel_agentperf.receiving.receiver import MAX_BODY, Receiver
from otel_agentperf.views import compare, otlp, spans
from tests.test_receiving import DELTA, _post, _record


def _exports(batches: list[list[float]], temporality: dict[type, AggregationTemporality]) -> list[bytes]:
    """What one process's exporter sends, one collection per batch of values, in the real tool histogram."""
    reader = InMemoryMetricReader(preferred_temporality=temporality)
    provider = MeterProvider(metric_readers=[reader])
    found = []
    for values in batches:
        _record(provider, values)
        _record(provider, values[:1], error=True)
        found.append(encode_metrics(reader.get_metrics_data()).SerializeToString())
    provider.shutdown()
    return found


def test_digested_metrics_give_the_rows_every_export_gives_in_memory_per_series() -> None:
    batches = [[0.01 * (i % 7 + 1), 0.2 + i / 100] for i in range(60)]
    cumulative = {kind: AggregationTemporality.CUMULATIVE for kind in DELTA}
    for temporality in (DELTA, cumulative):
        payloads = _exports(batches, temporality)
        keep = received.Received()
        for payload in payloads:
            keep.add("metrics", payload)
        every = [received.ExportMetricsServiceRequest.FromString(payload) for payload in payloads]
        assert otlp.rows(keep.metric_requests()) == otlp.rows(every)
        (row,) = [row for row in otlp.rows(keep.metric_requests()) if row.name == "search"]
        assert row.calls == 180 and row.errors == 60
        (digest,) = keep.metric_requests()
        points = [
            p
            for r in digest.resource_metrics
            for s in r.scope_metrics
            for m in s.metrics
            for p in m.histogram.data_points
        ]
        assert len(points) == 2  # one per series (with and without the error), not one per export
        assert keep.metric_exports == 60


def _trace(number: int, seconds: float, children: int = 2, hint: str = "") -> ExportTraceServiceRequest:
    """One trace: ``children`` spans, then their root, ``seconds`` long; in one request, as a batch sends it."""
    trace_id = number.to_bytes(16, "big")
    root_id = (number * 1000 + 1).to_bytes(8, "big")
    start = 10**18 + number * 10**9
    made = [
        Span(
            trace_id=trace_id,
            span_id=(number * 1000 + 2 + i).to_bytes(8, "big"),
            parent_span_id=root_id,
            name="child",
            start_time_unix_nano=start,
            end_time_unix_nano=start + 1000,
        )
        for i in range(children)
    ]
    made.append(
        Span(
            trace_id=trace_id,
            span_id=root_id,
            name=f"root {number}",
            start_time_unix_nano=start,
            end_time_unix_nano=start + int(seconds * 1e9),
            attributes=[KeyValue(key=names.KEEP, value=AnyValue(string_value=hint))] if hint else [],
        )
    )
    mark = KeyValue(key="service.name", value=AnyValue(string_value="app"))
    return ExportTraceServiceRequest(
        resource_spans=[ResourceSpans(resource={"attributes": [mark]}, scope_spans=[ScopeSpans(spans=made)])]
    )


def test_the_keeper_keeps_the_slowest_and_a_sample_whatever_the_number_of_traces() -> None:
    keep = received.Received(slowest=3)
    for number in range(1, 5001):
        seconds = 100.0 + number if number in (17, 2500, 4999) else (number % 97) / 100
        hint = "error,retried" if number % 50 == 0 else ""  # a hundred traces whose root carries keep hints
        keep.add("traces", _trace(number, seconds, hint=hint).SerializeToString())
    kept = spans.traces(keep.trace_requests())
    assert keep.span_count() == 15_000 and keep.trace_count() == 5000
    hinted = sorted(
        int(trace.roots[0].name.split()[1]) for trace in kept if int(trace.roots[0].name.split()[1]) % 50 == 0
    )
    assert hinted[-trace_keeper.HINTED :] == list(range(5000 - 50 * (trace_keeper.HINTED - 1), 5001, 50))  # the latest
    assert len(kept) <= 3 + received.SAMPLE + trace_keeper.HINTED  # the slowest three, the sample, the hinted
    slowest = sorted(kept, key=lambda trace: trace.duration, reverse=True)[:3]
    assert [trace.roots[0].name for trace in slowest] == ["root 4999", "root 2500", "root 17"]
    assert all(trace.span_count == 3 for trace in kept)  # each kept whole


def test_a_trace_without_its_root_is_held_bounded_and_late_spans_join_a_kept_trace(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    keeper = trace_keeper.TraceKeeper(slowest=1, sample=0)
    monkeypatch.setattr(trace_keeper, "PENDING_SPANS", 100)
    for number in range(1, 200):  # roots in another process: only children arrive
        orphan = _trace(number, 0.5, children=3)
        del orphan.resource_spans[0].scope_spans[0].spans[-1]
        keeper.add(orphan)
    assert keeper.traces == 199 and sum(len(r.resource_spans[0].scope_spans[0].spans) for r in keeper.requests()) <= 103
    keeper.add(_trace(500, 9.0))
    late = _trace(500, 9.0, children=1)
    del late.resource_spans[0].scope_spans[0].spans[-1]
    late.resource_spans[0].scope_spans[0].spans[0].span_id = b"late-one"
    keeper.add(late)
    (slowest,) = [trace for trace in spans.traces(keeper.requests()) if trace.duration == int(9e9)]
    assert slowest.span_count == 4


def test_report_and_traces_stream_through_a_saved_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "big.otlp"
    with path.open("wb") as stream:
        saved.start(stream)
        for number in range(1, 3001):
            saved.append(stream, "traces", _trace(number, 50.0 if number == 1234 else 0.01).SerializeToString())
        for payload in _exports([[0.1, 0.2]] * 5, DELTA):
            saved.append(stream, "metrics", payload)
    loaded = received.load(path.open("rb"), slowest=1)
    assert len(spans.traces(loaded.trace_requests())) == 1 + received.SAMPLE
    assert cli.main(["traces", "--file", str(path), "--slowest", "1"]) == 0
    out = capsys.readouterr().out
    assert "Slowest traces (1 of 3000; " in out and "root 1234" in out
    assert cli.main(["report", "--file", str(path), "--format", "json"]) == 0
    (operation,) = json.loads(capsys.readouterr().out)["operations"]
    assert operation["calls"] == 15
    cut = tmp_path / "cut.otlp"
    cut.write_bytes(path.read_bytes()[:-5])
    try:
        list(saved.records(io.BytesIO(cut.read_bytes())))
    except saved.SavedRunError as exc:
        assert str(exc).startswith("record at byte ") and "cut short" in str(exc)
    else:
        raise AssertionError("a cut saved run read as whole")


def _bomb(megabytes: int) -> bytes:
    """A gzip body of ``megabytes`` MiB of zeros, a gzip member per MiB (each about a kilobyte): what
    ``gzip.decompress`` reads as their concatenation, made in milliseconds."""
    return gzip.compress(bytes(1024 * 1024)) * megabytes


def test_a_body_past_the_limit_is_refused_413_sent_or_inflated(tmp_path: Path) -> None:
    bomb = _bomb(512)
    assert len(bomb) < 600 * 1024
    keep = received.Received()
    with Receiver(keep) as receiver:
        headers = {"Content-Type": "application/x-protobuf", "Content-Encoding": "gzip"}
        status, body = _post(f"{receiver.endpoint}/v1/traces", bomb, **headers)
        assert status == 413 and str(MAX_BODY).encode() in body
        plain = {"Content-Type": "application/x-protobuf"}
        assert _post(f"{receiver.endpoint}/v1/traces", bytes(MAX_BODY + 1), **plain)[0] == 413
        assert _post(f"{receiver.endpoint}/v1/traces", gzip.compress(b"\x00")[:-8], **headers)[0] == 400  # cut short
        one_stream = zlib.compress(bytes(MAX_BODY + 1), 1)  # deflate: a single stream past the limit
        assert (
            _post(f"{receiver.endpoint}/v1/traces", one_stream, **{**headers, "Content-Encoding": "deflate"})[0] == 413
        )
        payload = _trace(1, 0.1).SerializeToString()
        fine = gzip.compress(payload[:10]) + gzip.compress(payload[10:])  # two members: one body
        assert _post(f"{receiver.endpoint}/v1/traces", fine, **headers)[0] == 200
    assert keep.span_count() == 3  # only what was answered 200


BOMBED = """
import gzip, resource, urllib.error, urllib.request
from otel_agentperf.receiving.received import Received
from otel_agentperf.receiving.receiver import Receiver
body = gzip.compress(bytes(1 << 20)) * 512
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
with Receiver(Received()) as receiver:
    request = urllib.request.Request(receiver.endpoint + "/v1/traces", data=body, headers={
        "Content-Type": "application/x-protobuf", "Content-Encoding": "gzip"})
    try:
        urllib.request.urlopen(request)
    except urllib.error.HTTPError as exc:
        print("answered", exc.code)
print("grew kB", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before)
"""


def test_a_gzip_bomb_gets_413_one_line_and_the_receiving_process_stays_small() -> None:
    """0.5 MB of gzip that inflates to 512 MiB: refused at the limit, the process's peak barely moves (inflated
    it took ``run`` to over 1 GB). Measured in a process of its own, whose peak RSS is this alone."""
    bombed = subprocess.run([sys.executable, "-c", BOMBED], capture_output=True, text=True, timeout=120, check=True)
    answered, grew = bombed.stdout.splitlines()
    assert answered == "answered 413"
    assert int(grew.split()[-1]) < 64 * 1024  # kB: the limit's 20 MiB and change, not 512 MiB
    (said,) = bombed.stderr.splitlines()
    assert said.startswith("otel-agentperf run: refused a request larger than 20 MiB (sent or decompressed) with 413")


class _FillsUp(io.BytesIO):
    """A saved run's file whose disk fills after ``room`` writes."""

    def __init__(self, room: int) -> None:
        super().__init__()
        self.room = room

    def write(self, data: Any) -> int:
        if self.room == 0:
            raise OSError(28, "No space left on device")
        self.room -= 1
        return super().write(data)


def test_a_request_that_could_not_be_saved_is_answered_507_and_not_kept() -> None:
    keep = received.Received(_FillsUp(2))  # the header and one request
    headers = {"Content-Type": "application/x-protobuf"}
    with Receiver(keep) as receiver:
        assert _post(f"{receiver.endpoint}/v1/traces", _trace(1, 0.1).SerializeToString(), **headers)[0] == 200
        status, body = _post(f"{receiver.endpoint}/v1/traces", _trace(2, 0.1).SerializeToString(), **headers)
        assert status == 507 and b"No space left" in body
        assert _post(f"{receiver.endpoint}/v1/traces", _trace(3, 0.1).SerializeToString(), **headers)[0] == 200
    assert keep.span_count() == 6 and keep.saved == 1  # the first and (no longer saving) the third
    assert keep.save_error is not None and keep.save_error.startswith("saving stopped after 1 requests")


def _operation(trace: int, span: int, parent: int, kind: str, name: str, start: int, end: int) -> Span:
    """An otel-agentperf span of ``kind`` named ``name`` (its naming attribute), times in milliseconds."""
    naming = names.NAMING_ATTRIBUTES[kind][0]
    return Span(
        trace_id=trace.to_bytes(16, "big"),
        span_id=span.to_bytes(8, "big"),
        parent_span_id=parent.to_bytes(8, "big") if parent else b"",
        name=f"{kind} {name}",
        start_time_unix_nano=10**18 + start * 10**6,
        end_time_unix_nano=10**18 + end * 10**6,
        attributes=[
            KeyValue(key=names.OPERATION_KIND, value=AnyValue(string_value=kind)),
            KeyValue(key=naming, value=AnyValue(string_value=name)),
        ],
    )


def _batch(service: str, run: int, made: list[Span]) -> ExportTraceServiceRequest:
    resource = [
        KeyValue(key=names.SERVICE_NAME, value=AnyValue(string_value=service)),
        KeyValue(key=names.RUN_INDEX, value=AnyValue(string_value=str(run))),
    ]
    scope = {"name": names.SCOPE_NAME}
    return ExportTraceServiceRequest(
        resource_spans=[
            ResourceSpans(resource={"attributes": resource}, scope_spans=[ScopeSpans(scope=scope, spans=made)])
        ]
    )


def test_compare_reads_a_saved_run_a_finished_trace_at_a_time_with_late_spans_and_quiet_processes(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """3,000 requests over two runs, each an agent calling a tool, in batches of 10 requests; a helper process's
    span of every tenth request arrives a batch late (it joins its trace: its caller is the agent); a process
    that made no request is one request from its first operation to its last. Held spans never pass the
    window and pending limits, and every latency and caller is what the whole run gives."""
    monkeypatch.setattr(finished_traces, "GRACE_SPANS", 40)
    monkeypatch.setattr(finished_traces, "PENDING_SPANS", 60)
    path = tmp_path / "run.otlp"
    held: list[int] = []
    original = finished_traces.FinishedTraces.add

    def watched(self: finished_traces.FinishedTraces, request: ExportTraceServiceRequest) -> Any:
        found = original(self, request)
        held.append(self.held_spans)
        return found

    monkeypatch.setattr(finished_traces.FinishedTraces, "add", watched)
    late: list[Span] = []
    with path.open("wb") as stream:
        saved.start(stream)
        for first in range(0, 3000, 10):
            made: list[Span] = []
            for number in range(first, first + 10):
                start = number * 100
                made.append(_operation(number, 2, 1, names.KIND_TOOL, "search", start, start + 10 + number % 7))
                made.append(_operation(number, 1, 0, names.KIND_AGENT, "planner", start, start + 20 + number % 7))
            saved.append(stream, "traces", _batch("app", 1 + first // 1500, made).SerializeToString())
            if late:
                saved.append(stream, "traces", _batch("helper", 1 + first // 1500, late).SerializeToString())
            late = [_operation(first, 3, 1, names.KIND_TOOL, "fetch", first * 100 + 1, first * 100 + 5)]
        quiet = [_operation(90_000 + i, 1, 0, names.KIND_TOOL, "warm", 500 * i, 500 * i + 3) for i in range(3)]
        saved.append(stream, "traces", _batch("worker", 1, quiet).SerializeToString())
    side = compare.load(path)
    assert max(held) <= 40 + 60 + 20  # the window, the pending limit, and one batch beyond them
    latencies = side.samples["agent planner"]
    assert len(latencies) == 3000
    assert sorted(round(seconds * 1000) for seconds in latencies) == sorted(20 + n % 7 for n in range(3000))
    assert side.samples["process worker"] == [pytest.approx(1.003)]
    assert side.callers[(names.KIND_TOOL, "search")] == {(names.KIND_AGENT, "planner")}
    assert side.callers[(names.KIND_TOOL, "fetch")] == {(names.KIND_AGENT, "planner")}  # arrived late, joined
    assert side.callers[(names.KIND_TOOL, "warm")] == {(names.KIND_PROCESS, "worker")}
    means = side.run_means["agent planner"]
    assert means == [pytest.approx(sum(20 + n % 7 for n in range(k, k + 1500)) / 1500 / 1000) for k in (0, 1500)]
