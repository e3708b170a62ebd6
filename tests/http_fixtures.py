"""A tiny loopback HTTP server that answers GET with prepared bodies, for scrape-reading tests."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@contextmanager
def serving(bodies: list[bytes], content_type: str = "text/plain; version=0.0.4") -> Iterator[str]:
    """Yield a /metrics URL answering with ``bodies`` in turn, then the last one again and again."""
    pending = iter(bodies)
    last = [bodies[0]]

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            last[0] = next(pending, last[0])
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(last[0])))
            self.end_headers()
            self.wfile.write(last[0])

        def log_message(self, *args: object) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/metrics"
    finally:
        server.shutdown()
        server.server_close()
