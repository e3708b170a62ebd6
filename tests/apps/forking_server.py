"""A pre-fork HTTP server as gunicorn runs one: ``forking_server.py PORT``. The master binds the socket and
forks two workers after the SDK is set up (the launcher did that at start), and each worker answers every
request with one agent invocation and its own process id. On SIGINT the master stops the workers with
SIGTERM (the package flushes a worker's telemetry before SIGTERM ends it) and exits 0."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer

import otel_agentperf as perf


@perf.tool
def lookup_order(path: str) -> str:
    return f"{os.getpid()}"


@perf.agent
def support_agent(path: str) -> str:
    return lookup_order(path)


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = support_agent(self.path).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        return None


def serve(listening: socket.socket) -> None:
    server = HTTPServer(listening.getsockname(), Handler, bind_and_activate=False)
    server.socket = listening
    with contextlib.suppress(KeyboardInterrupt):  # a terminal's Ctrl-C reaches the workers too
        server.serve_forever()
    sys.exit(0)


def main() -> None:
    listening = socket.create_server(("127.0.0.1", int(sys.argv[1])))
    workers = []
    for _ in range(2):
        pid = os.fork()
        if pid == 0:
            serve(listening)
        workers.append(pid)
    print(f"master {os.getpid()} forked {len(workers)} workers", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        signal.pause()
    for pid in workers:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    for pid in workers:
        os.waitpid(pid, 0)


if __name__ == "__main__":
    main()
