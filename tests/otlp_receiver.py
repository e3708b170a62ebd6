"""Real OTLP receivers on loopback (gRPC and HTTP/protobuf), built on opentelemetry-proto.

They decode exactly what an exporter sends, so tests can assert metric names, bucket boundaries and
spans as a collector would see them.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent import futures
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import grpc
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2, metrics_service_pb2_grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.proto.metrics.v1.metrics_pb2 import Metric
from opentelemetry.proto.trace.v1.trace_pb2 import Span


class Received:
    """Everything exported to one receiver."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.metric_requests: list[metrics_service_pb2.ExportMetricsServiceRequest] = []
        self.trace_requests: list[trace_service_pb2.ExportTraceServiceRequest] = []
        # OTLP/HTTP only: each request's path and headers (names lower-cased), as a backend would see them.
        self.http_requests: list[tuple[str, dict[str, str]]] = []

    def metrics(self) -> dict[str, list[Metric]]:
        found: dict[str, list[Metric]] = {}
        with self.lock:
            for request in self.metric_requests:
                for resource_metrics in request.resource_metrics:
                    for scope_metrics in resource_metrics.scope_metrics:
                        for metric in scope_metrics.metrics:
                            found.setdefault(metric.name, []).append(metric)
        return found

    def spans(self) -> list[Span]:
        with self.lock:
            return [
                span
                for request in self.trace_requests
                for resource_spans in request.resource_spans
                for scope_spans in resource_spans.scope_spans
                for span in scope_spans.spans
            ]


class _Metrics(metrics_service_pb2_grpc.MetricsServiceServicer):  # type: ignore[misc]
    def __init__(self, received: Received) -> None:
        self.received = received

    def Export(self, request: Any, context: Any) -> Any:  # noqa: N802 - gRPC method name
        with self.received.lock:
            self.received.metric_requests.append(request)
        return metrics_service_pb2.ExportMetricsServiceResponse()


class _Traces(trace_service_pb2_grpc.TraceServiceServicer):  # type: ignore[misc]
    def __init__(self, received: Received) -> None:
        self.received = received

    def Export(self, request: Any, context: Any) -> Any:  # noqa: N802 - gRPC method name
        with self.received.lock:
            self.received.trace_requests.append(request)
        return trace_service_pb2.ExportTraceServiceResponse()


@contextmanager
def grpc_receiver() -> Iterator[tuple[str, Received]]:
    """Yield (endpoint, received) for an OTLP/gRPC receiver on a free loopback port."""
    received = Received()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    metrics_service_pb2_grpc.add_MetricsServiceServicer_to_server(_Metrics(received), server)
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(_Traces(received), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        yield f"http://127.0.0.1:{port}", received
    finally:
        server.stop(grace=None)


@contextmanager
def http_receiver() -> Iterator[tuple[str, Received]]:
    """Yield (endpoint, received) for an OTLP/HTTP protobuf receiver on a free loopback port.

    Like a hosted backend, it takes the signal paths under any prefix (``/api/public/otel/v1/traces``).
    """
    received = Received()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            with received.lock:
                received.http_requests.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
            if self.path.endswith("/v1/metrics"):
                request: Any = metrics_service_pb2.ExportMetricsServiceRequest.FromString(body)
                with received.lock:
                    received.metric_requests.append(request)
                reply = metrics_service_pb2.ExportMetricsServiceResponse()
            elif self.path.endswith("/v1/traces"):
                request = trace_service_pb2.ExportTraceServiceRequest.FromString(body)
                with received.lock:
                    received.trace_requests.append(request)
                reply = trace_service_pb2.ExportTraceServiceResponse()
            else:
                self.send_response(404)
                self.end_headers()
                return
            payload = reply.SerializeToString()
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: object) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", received
    finally:
        server.shutdown()
        server.server_close()
