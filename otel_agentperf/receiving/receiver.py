"""An OTLP/HTTP receiver on loopback: the standard protocol (protobuf over HTTP), the standard paths.

``POST /v1/traces`` and ``POST /v1/metrics`` with an ``application/x-protobuf`` body (gzip or deflate
``Content-Encoding`` as the exporters send under ``OTEL_EXPORTER_OTLP_COMPRESSION``) are kept in a
:class:`~otel_agentperf.receiving.received.Received` before the answer goes out, so everything an app
exported before it exited is there when it has exited. Each is answered with an empty
``Export*ServiceResponse`` (everything accepted), as a collector answers.
"""

from __future__ import annotations

import threading
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceResponse
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from otel_agentperf.receiving.received import BadRequest, Received

PATHS = {"/v1/traces": "traces", "/v1/metrics": "metrics"}


def _decompressed(body: bytes, encoding: str) -> bytes:
    if encoding == "gzip":
        return zlib.decompress(body, wbits=31)
    if encoding == "deflate":
        return zlib.decompress(body)
    if encoding in ("", "identity"):
        return body
    raise BadRequest(f"unsupported Content-Encoding {encoding!r}")


def _handler(received: Received) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            signal = PATHS.get(self.path.split("?", 1)[0])
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if signal is None:
                self._answer(404, b"otel-agentperf run receives /v1/traces and /v1/metrics only")
                return
            if not (self.headers.get("Content-Type") or "").startswith("application/x-protobuf"):
                self._answer(415, b"otel-agentperf run receives OTLP/HTTP protobuf (application/x-protobuf)")
                return
            try:
                received.add(signal, _decompressed(body, (self.headers.get("Content-Encoding") or "").lower()))
            except (BadRequest, zlib.error) as exc:
                self._answer(400, str(exc).encode())
                return
            reply = ExportTraceServiceResponse() if signal == "traces" else ExportMetricsServiceResponse()
            self._answer(200, reply.SerializeToString(), "application/x-protobuf")

        def _answer(self, status: int, payload: bytes, content_type: str = "text/plain") -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - http.server's signature
            """Silent: the app's terminal shows the app's output, not one line per export."""

    return Handler


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        """Silent: an exporter that went away mid-request (a worker killed while exporting) is not the app's
        output; what it had sent completely is kept."""


class Receiver:
    """The receiver on a free loopback port, serving on a thread of its own while in its ``with`` block."""

    def __init__(self, received: Received) -> None:
        self.received = received
        self._server = _Server(("127.0.0.1", 0), _handler(received))
        self._thread = threading.Thread(target=self._server.serve_forever, name="otel-agentperf-receiver", daemon=True)

    @property
    def endpoint(self) -> str:
        """The base URL exporters post to (``/v1/traces`` and ``/v1/metrics`` under it)."""
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> Receiver:
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
