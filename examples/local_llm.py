"""A local OpenAI-compatible chat-completions server on loopback, for the example app and the tests.

No model runs: answers are short canned text, with usage counted in words. The requested model name
selects a behaviour, so real SDK clients exercise real failure paths:

- ``<name>``: a normal answer (streamed as SSE when ``stream`` is true; usage in a final chunk when
  ``stream_options.include_usage`` is set);
- ``ratelimit-<n>-<name>``: the first ``n`` requests for that model get HTTP 429 (``retry-after-ms: 1``),
  so the SDK's own retries happen;
- ``error-<name>``: HTTP 500 every time;
- ``slow-<ms>-<name>``: waits before answering (or between streamed chunks);
- ``cut-<name>``: a stream whose connection drops after two chunks;
- ``nousage-<name>``: no usage anywhere.

Run it alone with ``python examples/local_llm.py`` (prints its base URL).
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

ANSWER = "Latency comes from slow model calls and repeated work."


def _words(messages: list[dict[str, Any]]) -> int:
    return sum(len(str(message.get("content", "")).split()) for message in messages)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: LocalLLMServer

    def log_message(self, *args: object) -> None:
        return None

    def _json(self, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        request = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))) or b"{}")
        if self.path.rstrip("/") != "/v1/chat/completions":
            self._json(404, {"error": {"message": f"no route {self.path}", "type": "not_found"}})
            return
        model = str(request.get("model", ""))
        self.server.requests[model] += 1
        limited = re.match(r"ratelimit-(\d+)-", model)
        if limited and self.server.requests[model] <= int(limited.group(1)):
            self._json(429, {"error": {"message": "rate limited", "type": "rate_limit"}}, {"retry-after-ms": "1"})
            return
        if model.startswith("error-"):
            self._json(500, {"error": {"message": "internal error", "type": "server_error"}})
            return
        slow = re.match(r"slow-(\d+)-", model)
        delay = int(slow.group(1)) / 1000 if slow else 0.0
        usage = None
        if not model.startswith("nousage-"):
            prompt = _words(request.get("messages", []))
            completion = len(ANSWER.split())
            usage = {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}
        if request.get("stream"):
            self._stream(request, model, usage, delay)
            return
        time.sleep(delay)
        self._json(
            200,
            {
                "id": "chatcmpl-local",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": model,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": ANSWER}, "finish_reason": "stop"}],
                **({"usage": usage} if usage else {}),
            },
        )

    def _stream(self, request: dict[str, Any], model: str, usage: dict[str, int] | None, delay: float) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Connection", "close")
        self.end_headers()
        base = {"id": "chatcmpl-local", "object": "chat.completion.chunk", "created": int(time.time()), "model": model}
        words = ANSWER.split()
        for index, word in enumerate(words):
            if model.startswith("cut-") and index == 2:
                self.wfile.flush()
                self.connection.shutdown(2)
                return
            time.sleep(delay)
            delta = {"role": "assistant", "content": word} if index == 0 else {"content": " " + word}
            chunk = {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": None}]}
            self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
            self.wfile.flush()
        final = {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
        self.wfile.write(f"data: {json.dumps(final)}\n\n".encode())
        if usage and (request.get("stream_options") or {}).get("include_usage"):
            self.wfile.write(f"data: {json.dumps({**base, 'choices': [], 'usage': usage})}\n\n".encode())
        self.wfile.write(b"data: [DONE]\n\n")
        self.wfile.flush()


class LocalLLMServer(ThreadingHTTPServer):
    """The server; ``requests`` counts requests per model (retries included)."""

    daemon_threads = True

    def __init__(self, port: int = 0) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.requests: Counter[str] = Counter()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"


@contextmanager
def running(port: int = 0) -> Iterator[LocalLLMServer]:
    """Serve in a background thread for the duration of the block."""
    server = LocalLLMServer(port)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


if __name__ == "__main__":
    with running() as local:
        print(local.base_url, flush=True)
        threading.Event().wait()
