"""An OTLP/HTTP receiver on loopback: the standard protocol (protobuf over HTTP), the standard paths.

``POST /v1/traces`` and ``POST /v1/metrics`` with an ``application/x-protobuf`` body (gzip or deflate
``Content-Encoding`` as the exporters send under ``OTEL_EXPORTER_OTLP_COMPRESSION``) are kept in a
:class:`~otel_agentperf.receiving.received.Received` before the answer goes out, so everything an app
exported before it exited is there when it has exited. Each is answered with an empty
``Export*ServiceResponse`` (everything accepted), as a collector answers, once it is kept (and saved, with
``--save``): a request that could not be saved is answered 507 and not kept.

Every request body is bounded, as a Collector's ``max_request_body_size`` bounds it, by ``MAX_BODY``
(20 MiB, the Collector's default) both as sent and decompressed: the decompression stops at the limit, so
a small compressed body that inflates to gigabytes costs no more than the limit. Beyond it the answer is
413, and ``run`` says so once on stderr. The SDK's exporters send a batch of at most 512 spans, or one
collection of metrics, a few hundred kilobytes at most.
"""

from __future__ import annotations

import sys
import threading
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceResponse
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from otel_agentperf.receiving.received import BadRequest, NotSaved, Received

PATHS = {"/v1/traces": "traces", "/v1/metrics": "metrics"}
MAX_BODY = 20 * 1024 * 1024  # bytes, sent and decompressed: the Collector's default max_request_body_size
_WBITS = {"gzip": 31, "deflate": 15}
_CHUNK = 1 << 16


class TooLarge(Exception):
    """A request body beyond ``MAX_BODY``, as sent or decompressed."""


def _decompressed(body: bytes, encoding: str, limit: int) -> bytes:
    """The body decompressed, never more than ``limit`` bytes of it (:class:`TooLarge` beyond); a gzip body
    of several members (concatenated gzip streams) is their concatenation, as ``gzip.decompress`` reads it."""
    if encoding in ("", "identity"):
        return body
    if encoding not in _WBITS:
        raise BadRequest(f"unsupported Content-Encoding {encoding!r}")
    found: list[bytes] = []
    room, rest = limit, body
    while True:
        inflating = zlib.decompressobj(wbits=_WBITS[encoding])
        part = inflating.decompress(rest, room + 1)
        if len(part) > room:
            raise TooLarge
        if not inflating.eof:
            raise BadRequest(f"{encoding} body is cut short")
        found.append(part)
        room -= len(part)
        rest = inflating.unused_data
        if encoding != "gzip" or not rest:
            return b"".join(found)


class _Refusals:
    """Says once, on stderr, that a request was refused for its size (an exporter retries nothing of a 413)."""

    def __init__(self) -> None:
        self._said = False
        self._lock = threading.Lock()

    def too_large(self) -> None:
        with self._lock:
            if self._said:
                return
            self._said = True
        print(
            f"otel-agentperf run: refused a request larger than {MAX_BODY // (1024 * 1024)} MiB "
            "(sent or decompressed) with 413; its telemetry is not in the report",
            file=sys.stderr,
            flush=True,
        )


def _handler(received: Received, refusals: _Refusals) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            signal = PATHS.get(self.path.split("?", 1)[0])
            length = self.headers.get("Content-Length") or "0"
            if not length.isdigit():
                self.close_connection = True
                self._answer(400, b"Content-Length is not a number")
                return
            if int(length) > MAX_BODY:
                self._discard(int(length))  # read and dropped a chunk at a time: the sender then reads the 413
                self._too_large()
                return
            body = self.rfile.read(int(length))
            if signal is None:
                self._answer(404, b"otel-agentperf run receives /v1/traces and /v1/metrics only")
                return
            if not (self.headers.get("Content-Type") or "").startswith("application/x-protobuf"):
                self._answer(415, b"otel-agentperf run receives OTLP/HTTP protobuf (application/x-protobuf)")
                return
            try:
                received.add(
                    signal, _decompressed(body, (self.headers.get("Content-Encoding") or "").lower(), MAX_BODY)
                )
            except TooLarge:
                self._too_large()
                return
            except (BadRequest, zlib.error) as exc:
                self._answer(400, str(exc).encode())
                return
            except NotSaved as exc:
                self._answer(507, str(exc).encode())
                return
            reply = ExportTraceServiceResponse() if signal == "traces" else ExportMetricsServiceResponse()
            self._answer(200, reply.SerializeToString(), "application/x-protobuf")

        def _discard(self, length: int) -> None:
            while length > 0:
                chunk = self.rfile.read(min(length, _CHUNK))
                if not chunk:
                    return
                length -= len(chunk)

        def _too_large(self) -> None:
            refusals.too_large()
            self._answer(413, f"request body larger than {MAX_BODY} bytes (sent or decompressed)".encode())

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
        self._server = _Server(("127.0.0.1", 0), _handler(received, _Refusals()))
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
