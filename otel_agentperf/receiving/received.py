"""What an app exported: OTLP trace and metric requests, decoded, in the order they arrived."""

from __future__ import annotations

import threading
from typing import BinaryIO

from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from otel_agentperf.receiving import saved


class BadRequest(Exception):
    """A payload that is not the OTLP request its signal names."""


class Received:
    """Every request received so far; each one also appended to a saved run, when there is one.

    Requests come in on the receiver's handler threads while the live view reads them, hence the lock.
    """

    def __init__(self, save: BinaryIO | None = None) -> None:
        self._lock = threading.Lock()
        self._traces: list[ExportTraceServiceRequest] = []
        self._metrics: list[ExportMetricsServiceRequest] = []
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
        """Decode and keep one request; raises :class:`BadRequest` for a payload that does not decode."""
        try:
            if signal == "traces":
                trace_request = ExportTraceServiceRequest.FromString(payload)
            else:
                metric_request = ExportMetricsServiceRequest.FromString(payload)
        except DecodeError as exc:
            raise BadRequest(f"not an OTLP {signal} request ({exc})") from exc
        with self._lock:
            if signal == "traces":
                self._traces.append(trace_request)
            else:
                self._metrics.append(metric_request)
            if self._save is not None:
                try:
                    saved.append(self._save, signal, payload)
                except OSError as exc:  # a full disk, say: the run goes on, and says so at the end
                    self.save_error = f"saving stopped after {self.saved} requests: {exc.strerror or exc}"
                    self._save = None
                else:
                    self.saved += 1

    def trace_requests(self) -> list[ExportTraceServiceRequest]:
        with self._lock:
            return list(self._traces)

    def metric_requests(self) -> list[ExportMetricsServiceRequest]:
        with self._lock:
            return list(self._metrics)

    def span_count(self) -> int:
        return sum(
            len(scope.spans)
            for request in self.trace_requests()
            for resource in request.resource_spans
            for scope in resource.scope_spans
        )


def load(data: bytes) -> Received:
    """A saved run's requests, as :class:`Received` held them while the run went on."""
    received = Received()
    for signal, payload in saved.records(data):
        try:
            received.add(signal, payload)
        except BadRequest as exc:
            raise saved.SavedRunError(str(exc)) from exc
    return received
