"""What an app exported: OTLP metrics digested per series, traces kept (all, or a bounded few), decoded."""

from __future__ import annotations

import io
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import BinaryIO, TypeVar

from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import KeyValue
from opentelemetry.proto.metrics.v1.metrics_pb2 import ResourceMetrics
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, Span

from otel_agentperf.conventions import names
from otel_agentperf.receiving import saved
from otel_agentperf.receiving.metric_digest import MetricDigest
from otel_agentperf.receiving.trace_keeper import TraceKeeper


class BadRequest(Exception):
    """A payload that is not the OTLP request its signal names."""


@dataclass
class Run:
    """The requests of one run of ``otel-agentperf run --repeat N``, in the order they arrived.

    ``index`` is the run's ``agentperf.run.index`` (1 to N); 0 holds what carries none: everything of a run
    saved without ``--repeat`` (or before it existed), or of an app that builds its resource without the
    environment's ``OTEL_RESOURCE_ATTRIBUTES``.
    """

    index: int
    traces: list[ExportTraceServiceRequest] = field(default_factory=list)
    metrics: list[ExportMetricsServiceRequest] = field(default_factory=list)

    def trace_requests(self) -> list[ExportTraceServiceRequest]:
        """As :meth:`Received.trace_requests`, so a view that reads a whole run reads one of them too."""
        return list(self.traces)

    def metric_requests(self) -> list[ExportMetricsServiceRequest]:
        return list(self.metrics)


def _run_index(resource_attributes: Iterable[KeyValue]) -> int:
    """A resource's ``agentperf.run.index``, 0 when it has none (or one that is not a whole number)."""
    for each in resource_attributes:
        if each.key == names.RUN_INDEX:
            if each.value.HasField("int_value"):
                return each.value.int_value
            text = each.value.string_value  # what OTEL_RESOURCE_ATTRIBUTES gives: strings
            return int(text) if text.isdigit() else 0
    return 0


class NotSaved(Exception):
    """A request that could not be written to the saved run (a full disk): not kept either, so the report
    and the saved run hold the same requests, and the receiver does not answer it as accepted."""


SAMPLE = 16  # traces kept beside the slowest, a uniform sample of the rest


class Received:
    """What was received so far, in memory bounded by the metric series and the traces kept; each request
    also appended to a saved run, when there is one.

    Metrics are digested (``metric_digest``: one point per stream). Traces are kept by a
    :class:`~otel_agentperf.receiving.trace_keeper.TraceKeeper` (the ``slowest`` slowest, a sample of
    ``SAMPLE`` others, those still in flight), or every one of them with ``slowest=None`` (for a run known to
    be small; ``compare``, which needs every request's latency, streams a saved run through
    ``finished_traces`` instead). Requests come in on the receiver's handler threads while the live
    view reads them, hence the lock.
    """

    def __init__(self, save: BinaryIO | None = None, slowest: int | None = None) -> None:
        self._lock = threading.Lock()
        self._metrics = MetricDigest()
        self._keeper = None if slowest is None else TraceKeeper(slowest, SAMPLE)
        self._traces: list[ExportTraceServiceRequest] = []  # every request, without a keeper
        self._spans = 0
        self._save = save
        self.saved = 0  # requests written to the saved run
        self.save_error: str | None = None
        if save is not None:
            try:
                saved.start(save)
            except OSError as exc:
                self.save_error = f"cannot save: {exc.strerror or exc}"
                self._save = None

    def add(self, signal: str, payload: bytes) -> None:
        """Decode and keep one request; raises :class:`BadRequest` for a payload that does not decode, and
        :class:`NotSaved` when saving it failed."""
        try:
            if signal == "traces":
                trace_request = ExportTraceServiceRequest.FromString(payload)
            else:
                metric_request = ExportMetricsServiceRequest.FromString(payload)
        except DecodeError as exc:
            raise BadRequest(f"not an OTLP {signal} request ({exc})") from exc
        with self._lock:
            if self._save is not None:
                try:
                    saved.append(self._save, signal, payload)
                except OSError as exc:  # a full disk, say: the run goes on, and says so at the end
                    self.save_error = f"saving stopped after {self.saved} requests: {exc.strerror or exc}"
                    self._save = None
                    raise NotSaved(self.save_error) from exc
                self.saved += 1
            if signal == "metrics":
                self._metrics.add(metric_request)
            elif self._keeper is not None:
                self._keeper.add(trace_request)
            else:
                self._traces.append(trace_request)
                self._spans += _spans_in(trace_request)

    def trace_requests(self) -> list[ExportTraceServiceRequest]:
        """The traces kept: every request received, or (with a keeper) one request per trace kept."""
        with self._lock:
            return list(self._traces) if self._keeper is None else self._keeper.requests()

    def metric_requests(self) -> list[ExportMetricsServiceRequest]:
        """The metrics received, digested into one request (none when nothing was received)."""
        with self._lock:
            return [self._metrics.request()] if self._metrics.exports else []

    @property
    def metric_exports(self) -> int:
        """How many metric requests arrived."""
        return self._metrics.exports

    def trace_count(self) -> int:
        """Traces seen (kept or not); without a keeper, the traces in the requests."""
        if self._keeper is not None:
            return self._keeper.traces
        return len({span.trace_id for request in self.trace_requests() for span in _spans(request)})

    def runs(self) -> list[Run]:
        """What was kept split by the run that exported it, in run order (see :class:`Run`).

        A request is split by its resources' ``agentperf.run.index``: every process of one run exports the
        same index, so one request holds one run's data; a request that mixes resources (a collector
        batching processes of several runs) is cut into one request per run.
        """
        found: dict[int, Run] = {}
        for trace_request in self.trace_requests():
            for index, resource_spans in _by_run(trace_request.resource_spans):
                part = ExportTraceServiceRequest()
                part.resource_spans.extend(resource_spans)
                found.setdefault(index, Run(index)).traces.append(part)
        for metric_request in self.metric_requests():
            for index, resource_metrics in _by_run(metric_request.resource_metrics):
                part = ExportMetricsServiceRequest()
                part.resource_metrics.extend(resource_metrics)
                found.setdefault(index, Run(index)).metrics.append(part)
        return [found[index] for index in sorted(found)]

    def span_count(self) -> int:
        """Every span received, kept or not."""
        return self._spans if self._keeper is None else self._keeper.spans


def _spans(request: ExportTraceServiceRequest) -> Iterator[Span]:
    for resource in request.resource_spans:
        for scope in resource.scope_spans:
            yield from scope.spans


def _spans_in(request: ExportTraceServiceRequest) -> int:
    return sum(len(scope.spans) for resource in request.resource_spans for scope in resource.scope_spans)


_Resourced = TypeVar("_Resourced", ResourceSpans, ResourceMetrics)


def _by_run(items: Iterable[_Resourced]) -> list[tuple[int, list[_Resourced]]]:
    """A request's resource spans or metrics grouped by their resource's run index, in first-seen order."""
    grouped: dict[int, list[_Resourced]] = {}
    for item in items:
        grouped.setdefault(_run_index(item.resource.attributes), []).append(item)
    return list(grouped.items())


def load(source: bytes | BinaryIO, slowest: int | None = None, traces: bool = True) -> Received:
    """A saved run's requests (the file's bytes, or a stream read one record at a time), received as ``run``
    received them (``slowest``: as for :class:`Received`); without ``traces``, its metrics alone (the trace
    records are skipped undecoded: a report reads metrics only)."""
    received = Received(slowest=slowest)
    for signal, payload in saved.records(io.BytesIO(source) if isinstance(source, bytes) else source):
        if signal == "traces" and not traces:
            continue
        try:
            received.add(signal, payload)
        except BadRequest as exc:
            raise saved.SavedRunError(str(exc)) from exc
    return received
