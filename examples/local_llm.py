"""A local OpenAI- and Anthropic-compatible LLM server on loopback, for the example app and the tests.

No model runs: answers are canned text, with usage counted in words. Routes: OpenAI
``/v1/chat/completions``, ``/v1/responses`` and ``/v1/embeddings``; Anthropic ``/v1/messages``.
The requested model name selects a behaviour, so real SDK clients exercise real failure paths:

- ``<name>``: a normal answer (streamed as SSE when ``stream`` is true; on chat completions, usage in
  a final chunk only when ``stream_options.include_usage`` is set, as the OpenAI API does);
- ``ratelimit-<n>-<name>``: the first ``n`` requests for that model get HTTP 429 (``retry-after-ms: 1``),
  so the SDK's own retries happen;
- ``throttle-<n>-<ms>-<name>``: every call is refused with HTTP 429 (``retry-after-ms: <ms>``) until its
  ``n``-th retry (the SDKs' ``x-stainless-retry-count`` header), so each call, concurrent or not, waits
  ``n`` times ``ms`` in the SDK's backoff before it is answered;
- ``error-<name>``: HTTP 500 every time;
- ``slow-<ms>-<name>``: waits before answering (or between streamed chunks);
- ``ttft-<ms>-<name>`` (also after another prefix): waits before sending anything (headers included), so a
  stream's first chunk comes ``ms`` late and the rest as fast as usual;
- ``prefill-<us>-<name>`` (also after another prefix): waits ``us`` microseconds per prompt word before
  sending anything, as a model reads its prompt, so a longer prompt answers later;
- ``hang-<name>``: waits 5 s before answering, for client timeouts;
- ``cut-<name>``: a stream whose connection drops after two chunks;
- ``long-<n>-<name>`` (also after another prefix): an answer of ``n`` words (the usual ones over and over),
  streamed a word a chunk, its usage counting them;
- ``malformed-<name>``: HTTP 200 with a body that is not JSON;
- ``garbled-<name>``: HTTP 200 with JSON of the wrong shape (fields of the wrong types, usage in the
  billions of billions);
- ``cached-<n>-<name>`` (also after another prefix): reports ``n`` of the input tokens as read from the prompt cache;
- ``nousage-<name>``: no usage anywhere;
- ``tools-<n>-<name>`` (also after another prefix): when the request offers tools, calls them, one per
  answer in turn, until the conversation holds ``n`` tool results (1 without the prefix), then answers.

A chat or (unstreamed) Anthropic request in DSPy's ``[[ ## field ## ]]`` format gets every output field
it asks for, so DSPy programs parse the answers; a ReAct agent is told to call its tools the same way
(``n`` observations in its trajectory, then ``finish``).

Run it alone with ``python examples/local_llm.py [PORT]`` (prints its base URL).
"""

from __future__ import annotations

import ast
import base64
import json
import re
import struct
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

ANSWER = "Latency comes from slow model calls and repeated work."
WORDS = ANSWER.split()
EMBEDDING_SIZE = 8
HANG_SECONDS = 5.0
# One body for every route: each SDK reads what it can of it, and the instrumentation must not choke on it.
GARBLED: dict[str, Any] = {
    "id": 7,
    "type": "message",
    "model": ["not", "a", "name"],
    "choices": "none",
    "content": {"text": 3},
    "output": None,
    "data": "none",
    "stop_reason": 5,
    "usage": {
        "prompt_tokens": 10**20,
        "completion_tokens": "many",
        "total_tokens": -1,
        "input_tokens": 10**20,
        "output_tokens": -3,
    },
}


def _text(content: Any) -> str:
    if isinstance(content, list):
        return " ".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return str(content or "")


def _input_words(request: dict[str, Any]) -> int:
    """Words in the prompt: messages (chat, Anthropic), input (responses, embeddings), instructions."""
    items = request.get("messages") or request.get("input") or []
    if isinstance(items, str):
        items = [{"content": items}]
    texts = [_text(item.get("content") if isinstance(item, dict) else item) for item in items]
    texts += [_text(request.get(key)) for key in ("system", "instructions")]
    return max(sum(len(text.split()) for text in texts), 1)


def _words(model: str) -> list[str]:
    """The answer's words: ``n`` of them (the answer's, over and over) for a ``long-<n>-`` model."""
    wanted = re.search(r"(?:^|-)long-(\d+)-", model)
    if wanted is None:
        return WORDS
    return [WORDS[index % len(WORDS)] for index in range(int(wanted.group(1)))]


def _tool_results(request: dict[str, Any]) -> int:
    """Tool results already in the conversation: chat ``tool`` messages or responses ``function_call_output``."""
    items = request.get("messages") or request.get("input") or []
    if not isinstance(items, list):
        return 0
    return sum(
        1
        for item in items
        if isinstance(item, dict) and (item.get("role") == "tool" or item.get("type") == "function_call_output")
    )


def _arguments(schema: Any) -> str:
    """Arguments that satisfy a tool's JSON schema: strings, numbers and flags get plain values."""
    samples = {"string": "latency", "integer": 2, "number": 2, "boolean": True}
    properties = schema.get("properties", {}) if isinstance(schema, dict) else {}
    return json.dumps({key: samples.get(spec.get("type")) for key, spec in properties.items()})


def _tool_call(request: dict[str, Any], model: str) -> tuple[str, str] | None:
    """(tool name, JSON arguments) when this answer should call a tool, else None."""
    tools = [tool.get("function", tool) for tool in request.get("tools") or [] if isinstance(tool, dict)]
    if not tools:
        return None
    wanted = re.search(r"(?:^|-)tools-(\d+)-", model)
    done = _tool_results(request)
    if done >= (int(wanted.group(1)) if wanted else 1):
        return None
    tool = tools[done % len(tools)]
    return str(tool.get("name")), _arguments(tool.get("parameters"))


_SAMPLES = {"int": "2", "float": "0.5", "bool": "True"}


def _dspy_answer(request: dict[str, Any], model: str) -> str | None:
    """The answer to a DSPy ChatAdapter prompt: each output field it asks for, then the completion marker."""
    messages = request.get("messages") or []
    system = _text(request.get("system"))  # Anthropic's, beside the messages; OpenAI's is the first message
    if not system and messages and isinstance(messages[0], dict):
        system = _text(messages[0].get("content"))
    if "[[ ## completed ## ]]" not in system or "Your output fields are:" not in system:
        return None
    outputs = system.split("Your output fields are:", 1)[1].split("All interactions", 1)[0]
    fields = re.findall(r"`(\w+)` \(([^)]*\)?)\)", outputs)
    tools = re.findall(r"\(\d+\) (\w+), whose description is .*?It takes arguments (\{.*?\})\.\n", system)
    observations = _text(messages[-1].get("content")).count("[[ ## observation_")
    wanted = re.search(r"(?:^|-)tools-(\d+)-", model)
    callable_tools = [(name, schema) for name, schema in tools if name != "finish"]
    tool, schema = "finish", "{}"
    if callable_tools and observations < (int(wanted.group(1)) if wanted else 1):
        tool, schema = callable_tools[observations % len(callable_tools)]
    values = {"next_tool_name": tool, "next_tool_args": _arguments({"properties": ast.literal_eval(schema)})}
    parts = [
        f"[[ ## {name} ## ]]\n{values.get(name, _SAMPLES.get(kind.split('[')[0], ANSWER))}" for name, kind in fields
    ]
    return "\n\n".join([*parts, "[[ ## completed ## ]]"])


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out as two writes: with Nagle's algorithm the body would wait for the client's
    # delayed ACK (40 ms on Linux) on a kept-alive connection, a latency no model name asked for.
    disable_nagle_algorithm = True
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

    def _raw(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _error(self, status: int, kind: str, headers: dict[str, str] | None = None) -> None:
        if self.path.startswith("/v1/messages"):
            self._json(status, {"type": "error", "error": {"type": kind, "message": kind}}, headers)
        else:
            self._json(status, {"error": {"message": kind, "type": kind}}, headers)

    def _begin_stream(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")  # so a cut connection is an incomplete body
        self.send_header("Connection", "close")
        self.end_headers()

    def _send_chunk(self, data: bytes) -> None:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def _end_stream(self) -> None:
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _event(self, payload: dict[str, Any], name: str | None = None) -> None:
        prefix = f"event: {name}\n" if name else ""
        self._send_chunk(f"{prefix}data: {json.dumps(payload)}\n\n".encode())

    def _cut(self, model: str, index: int) -> bool:
        if model.startswith("cut-") and index == 2:
            self.wfile.flush()
            self.connection.shutdown(2)
            return True
        return False

    def do_POST(self) -> None:
        request = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))) or b"{}")
        routes = {
            "/v1/chat/completions": self._chat,
            "/v1/responses": self._responses,
            "/v1/embeddings": self._embeddings,
            "/v1/messages": self._messages,
        }
        route = routes.get(self.path.split("?")[0].rstrip("/"))
        if route is None:
            self._error(404, "not_found")
            return
        model = str(request.get("model", ""))
        self.server.requests[model] += 1
        limited = re.match(r"ratelimit-(\d+)-", model)
        if limited and self.server.requests[model] <= int(limited.group(1)):
            self._error(429, "rate_limit_error", {"retry-after-ms": "1", "retry-after": "0"})
            return
        throttled = re.match(r"throttle-(\d+)-(\d+)-", model)
        if throttled and int(self.headers.get("x-stainless-retry-count") or 0) < int(throttled.group(1)):
            wait_ms = int(throttled.group(2))
            headers = {"retry-after-ms": str(wait_ms), "retry-after": str(-(-wait_ms // 1000))}  # whole seconds, up
            self._error(429, "rate_limit_error", headers)
            return
        if model.startswith("error-"):
            self._error(500, "api_error")
            return
        if model.startswith("malformed-"):
            self._raw(200, b'{"id": "cut off', "application/json")
            return
        if model.startswith("garbled-"):
            self._json(200, GARBLED)
            return
        if model.startswith("hang-"):
            time.sleep(HANG_SECONDS)
        first = re.search(r"(?:^|-)ttft-(\d+)-", model)
        if first:
            time.sleep(int(first.group(1)) / 1000)
        prefill = re.search(r"(?:^|-)prefill-(\d+)-", model)
        if prefill:
            time.sleep(int(prefill.group(1)) * _input_words(request) / 1e6)
        slow = re.match(r"slow-(\d+)-", model)
        cached = re.search(r"(?:^|-)cached-(\d+)-", model)
        usage = None
        if not model.startswith("nousage-"):
            usage = {
                "input": _input_words(request),
                "output": len(_words(model)),
                "cached": int(cached.group(1)) if cached else 0,
            }
        route(request, model, usage, int(slow.group(1)) / 1000 if slow else 0.0)

    def _chat(self, request: dict[str, Any], model: str, usage: dict[str, int] | None, delay: float) -> None:
        chat_usage = None
        if usage:
            chat_usage = {
                "prompt_tokens": usage["input"],
                "completion_tokens": usage["output"],
                "total_tokens": usage["input"] + usage["output"],
                "prompt_tokens_details": {"cached_tokens": usage["cached"]},
            }
        base = {"id": "chatcmpl-local", "created": int(time.time()), "model": model}
        answer = _dspy_answer(request, model) or " ".join(_words(model))
        call = _tool_call(request, model)
        if call is not None:
            call_id = f"call_{_tool_results(request)}"
            tool_call = {"id": call_id, "type": "function", "function": {"name": call[0], "arguments": call[1]}}
        if not request.get("stream"):
            time.sleep(delay)
            message: dict[str, Any] = {"role": "assistant", "content": answer}
            finish = "stop"
            if call is not None:
                message, finish = {"role": "assistant", "content": None, "tool_calls": [tool_call]}, "tool_calls"
            choice = {"index": 0, "message": message, "finish_reason": finish}
            self._json(
                200,
                {
                    **base,
                    "object": "chat.completion",
                    "choices": [choice],
                    **({"usage": chat_usage} if chat_usage else {}),
                },
            )
            return
        self._begin_stream()
        base["object"] = "chat.completion.chunk"
        if call is not None:
            time.sleep(delay)
            delta = {"role": "assistant", "tool_calls": [{"index": 0, **tool_call}]}
            self._event({**base, "choices": [{"index": 0, "delta": delta, "finish_reason": None}]})
            self._event({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]})
            if chat_usage and (request.get("stream_options") or {}).get("include_usage"):
                self._event({**base, "choices": [], "usage": chat_usage})
            self._send_chunk(b"data: [DONE]\n\n")
            self._end_stream()
            return
        for index, piece in enumerate(re.findall(r"\s*\S+", answer)):
            if self._cut(model, index):
                return
            time.sleep(delay)
            delta = {"role": "assistant", "content": piece} if index == 0 else {"content": piece}
            self._event({**base, "choices": [{"index": 0, "delta": delta, "finish_reason": None}]})
        self._event({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
        if chat_usage and (request.get("stream_options") or {}).get("include_usage"):
            self._event({**base, "choices": [], "usage": chat_usage})
        self._send_chunk(b"data: [DONE]\n\n")
        self._end_stream()

    def _responses(self, request: dict[str, Any], model: str, usage: dict[str, int] | None, delay: float) -> None:
        words = _words(model)
        text_part = {"type": "output_text", "text": " ".join(words), "annotations": []}
        message = {
            "type": "message",
            "id": "msg_local",
            "status": "completed",
            "role": "assistant",
            "content": [text_part],
        }
        call = _tool_call(request, model)
        output: dict[str, Any] = message
        if call is not None:
            call_id = f"call_{_tool_results(request)}"
            output = {
                "type": "function_call",
                "id": f"fc_{call_id}",
                "call_id": call_id,
                "name": call[0],
                "arguments": call[1],
                "status": "completed",
            }
        response: dict[str, Any] = {
            "id": "resp_local",
            "object": "response",
            "created_at": int(time.time()),
            "model": model,
            "status": "completed",
            "output": [output],
            "parallel_tool_calls": True,
            "tool_choice": "auto",
            "tools": [],
            "error": None,
            "incomplete_details": None,
            "instructions": request.get("instructions"),
            "metadata": {},
            "usage": None,
        }
        if usage:
            response["usage"] = {
                "input_tokens": usage["input"],
                "output_tokens": usage["output"],
                "total_tokens": usage["input"] + usage["output"],
                "input_tokens_details": {"cached_tokens": usage["cached"]},
                "output_tokens_details": {"reasoning_tokens": 0},
            }
        if not request.get("stream"):
            time.sleep(delay)
            self._json(200, response)
            return
        self._begin_stream()
        sequence = iter(range(1_000))
        if call is not None:
            started = {**response, "status": "in_progress", "output": [], "usage": None}
            self._event({"type": "response.created", "sequence_number": next(sequence), "response": started})
            for kind in ("response.output_item.added", "response.output_item.done"):
                self._event({"type": kind, "sequence_number": next(sequence), "output_index": 0, "item": output})
            self._event({"type": "response.completed", "sequence_number": next(sequence), "response": response})
            self._end_stream()
            return
        item = {"item_id": "msg_local", "output_index": 0, "content_index": 0}
        started = {**response, "status": "in_progress", "output": [], "usage": None}
        self._event({"type": "response.created", "sequence_number": next(sequence), "response": started})
        self._event(
            {
                "type": "response.output_item.added",
                "sequence_number": next(sequence),
                "output_index": 0,
                "item": {**message, "status": "in_progress", "content": []},
            }
        )
        part = {**text_part, "text": ""}
        self._event({"type": "response.content_part.added", "sequence_number": next(sequence), **item, "part": part})
        for index, word in enumerate(words):
            if self._cut(model, index):
                return
            time.sleep(delay)
            delta = word if index == 0 else " " + word
            self._event(
                {
                    "type": "response.output_text.delta",
                    "sequence_number": next(sequence),
                    **item,
                    "delta": delta,
                    "logprobs": [],
                }
            )
        self._event(
            {
                "type": "response.output_text.done",
                "sequence_number": next(sequence),
                **item,
                "text": " ".join(words),
                "logprobs": [],
            }
        )
        self._event(
            {"type": "response.content_part.done", "sequence_number": next(sequence), **item, "part": text_part}
        )
        self._event(
            {"type": "response.output_item.done", "sequence_number": next(sequence), "output_index": 0, "item": message}
        )
        self._event({"type": "response.completed", "sequence_number": next(sequence), "response": response})
        self._end_stream()

    def _embeddings(self, request: dict[str, Any], model: str, usage: dict[str, int] | None, delay: float) -> None:
        time.sleep(delay)
        inputs = request.get("input")
        count = len(inputs) if isinstance(inputs, list) and not all(isinstance(i, int) for i in inputs) else 1
        vector = [0.125 * (i + 1) for i in range(EMBEDDING_SIZE)]
        encoded: Any = vector
        if request.get("encoding_format") == "base64":
            encoded = base64.b64encode(struct.pack(f"<{EMBEDDING_SIZE}f", *vector)).decode()
        data = [{"object": "embedding", "index": i, "embedding": encoded} for i in range(count)]
        payload: dict[str, Any] = {"object": "list", "data": data, "model": model}
        if usage:
            payload["usage"] = {"prompt_tokens": usage["input"], "total_tokens": usage["input"]}
        self._json(200, payload)

    def _messages(self, request: dict[str, Any], model: str, usage: dict[str, int] | None, delay: float) -> None:
        anthropic_usage: dict[str, Any] = {"input_tokens": 0, "output_tokens": 0}
        if usage:
            anthropic_usage = {
                "input_tokens": usage["input"] - usage["cached"],
                "output_tokens": usage["output"],
                "cache_read_input_tokens": usage["cached"],
                "cache_creation_input_tokens": 0,
            }
        message: dict[str, Any] = {
            "id": "msg_local",
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [{"type": "text", "text": _dspy_answer(request, model) or " ".join(_words(model))}],
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": anthropic_usage,
        }
        if not request.get("stream"):
            time.sleep(delay)
            self._json(200, message)
            return
        self._begin_stream()
        start = {**message, "content": [], "stop_reason": None, "usage": {**anthropic_usage, "output_tokens": 1}}
        self._event({"type": "message_start", "message": start}, "message_start")
        block = {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}
        self._event(block, "content_block_start")
        for index, word in enumerate(_words(model)):
            if self._cut(model, index):
                return
            time.sleep(delay)
            delta = {"type": "text_delta", "text": word if index == 0 else " " + word}
            self._event({"type": "content_block_delta", "index": 0, "delta": delta}, "content_block_delta")
        self._event({"type": "content_block_stop", "index": 0}, "content_block_stop")
        final = {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None}}
        self._event({**final, "usage": {"output_tokens": anthropic_usage["output_tokens"]}}, "message_delta")
        self._event({"type": "message_stop"}, "message_stop")
        self._end_stream()


class LocalLLMServer(ThreadingHTTPServer):
    """The server; ``requests`` counts requests per model (retries included)."""

    daemon_threads = True
    request_queue_size = 256  # dozens of concurrent agent runs connect at once

    def __init__(self, port: int = 0) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.requests: Counter[str] = Counter()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that stops reading a stream early closes its connection: not an error here."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)

    @property
    def base_url(self) -> str:
        """The OpenAI SDK's base URL; the Anthropic SDK takes :attr:`root_url`."""
        return f"{self.root_url}/v1"

    @property
    def root_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


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
    with running(int(sys.argv[1]) if len(sys.argv) > 1 else 0) as local:
        print(local.base_url, flush=True)
        threading.Event().wait()
