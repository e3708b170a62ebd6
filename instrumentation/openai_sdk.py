"""OpenAI SDK (v1 to v3): ``chat.completions.create``, sync and async, streaming or not.

The SDK's return value is never replaced: a stream is the SDK's own ``Stream``/``AsyncStream`` object
(so ``with_raw_response``, context managers and ``close()`` behave as without instrumentation). Its
operation goes on after ``create`` returns and ends when the stream is exhausted, closed, fails
mid-way, or is garbage-collected unread; the SDK's stream classes are hooked once, and a stream that
was not started by an instrumented call passes straight through.

Token usage on streams is what the user asked the API for: ``stream_options`` is never added to a
request (a usage chunk has no ``choices``, which code indexing ``chunk.choices[0]`` would trip on).
No prompt or completion content is recorded.
"""

from __future__ import annotations

import functools
import weakref
from collections.abc import AsyncIterator, Iterator
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit

from opentelemetry.util.types import AttributeValue

from otel_agentperf import names, operations
from otel_agentperf.bounded import BoundedValues
from otel_agentperf.library import LibraryInstrumentor
from otel_agentperf.operations import Operation
from otel_agentperf.telemetry import Invocation
from otel_agentperf.wrappers import Call

_STATE = "_otel_agentperf_stream"
_CREATE = "openai.chat.completions.create"
_MODEL_LIMIT = 100
_REQUEST_ATTRIBUTES = {
    "max_tokens": names.GEN_AI_REQUEST_MAX_TOKENS,
    "max_completion_tokens": names.GEN_AI_REQUEST_MAX_TOKENS,
    "temperature": names.GEN_AI_REQUEST_TEMPERATURE,
    "top_p": names.GEN_AI_REQUEST_TOP_P,
    "frequency_penalty": names.GEN_AI_REQUEST_FREQUENCY_PENALTY,
    "presence_penalty": names.GEN_AI_REQUEST_PRESENCE_PENALTY,
    "seed": names.GEN_AI_REQUEST_SEED,
}
_models = BoundedValues(_MODEL_LIMIT)


@functools.lru_cache(maxsize=_MODEL_LIMIT + 1)
def _chat(model: str) -> Operation:
    return operations.llm(_CREATE, model, names.PROVIDER_OPENAI, names.OP_CHAT)


def _server(instance: Any) -> dict[str, AttributeValue]:
    base_url = getattr(getattr(instance, "_client", None), "base_url", None)
    if base_url is None:
        return {}
    parts = urlsplit(str(base_url))
    found: dict[str, AttributeValue] = {}
    if parts.hostname:
        found[names.SERVER_ADDRESS] = parts.hostname
    port = parts.port or (443 if parts.scheme == "https" else 80 if parts.scheme == "http" else None)
    if port:
        found[names.SERVER_PORT] = port
    return found


class _StreamState:
    """Follows one stream for its invocation; holds no reference to the stream itself."""

    __slots__ = ("finish_reasons", "invocation", "response_id", "response_model")

    def __init__(self, invocation: Invocation) -> None:
        self.invocation = invocation
        self.finish_reasons: list[str] = []
        self.response_id: str | None = None
        self.response_model: str | None = None

    def chunk(self, chunk: Any) -> None:
        if getattr(chunk, "choices", None):
            self.invocation.chunk()
            for choice in chunk.choices:
                if getattr(choice, "finish_reason", None):
                    self.finish_reasons.append(str(choice.finish_reason))
        self.response_id = self.response_id or getattr(chunk, "id", None)
        self.response_model = self.response_model or getattr(chunk, "model", None)
        usage = getattr(chunk, "usage", None)
        if usage is not None:
            _set_usage(self.invocation, usage)

    def done(self, error: BaseException | None = None) -> None:
        _set_response(self.invocation, self.response_id, self.response_model, self.finish_reasons)
        self.invocation.finish(error)


def _set_usage(invocation: Invocation, usage: Any) -> None:
    details = getattr(usage, "prompt_tokens_details", None)
    invocation.set_usage(
        getattr(usage, "prompt_tokens", None),
        getattr(usage, "completion_tokens", None),
        getattr(details, "cached_tokens", None) if details is not None else None,
    )


def _set_response(invocation: Invocation, response_id: Any, model: Any, finish_reasons: list[str]) -> None:
    attributes: dict[str, AttributeValue] = {}
    if response_id:
        attributes[names.GEN_AI_RESPONSE_ID] = str(response_id)
    if finish_reasons:
        attributes[names.GEN_AI_RESPONSE_FINISH_REASONS] = finish_reasons
    metric_attributes = {names.GEN_AI_RESPONSE_MODEL: _models(str(model))} if model else None
    invocation.add_attributes(attributes, metric_attributes)


def _on_result(invocation: Invocation, result: object) -> None:
    stream_class = type(result).__name__
    if stream_class in ("Stream", "AsyncStream") and hasattr(result, "_iterator"):
        state = _StreamState(invocation)
        result.__dict__[_STATE] = state
        weakref.finalize(result, state.done)
        invocation.defer()
        return
    usage = getattr(result, "usage", None)
    if usage is not None:
        _set_usage(invocation, usage)
    choices = getattr(result, "choices", None) or []
    reasons = [str(choice.finish_reason) for choice in choices if getattr(choice, "finish_reason", None)]
    _set_response(invocation, getattr(result, "id", None), getattr(result, "model", None), reasons)


def _prepare(instance: Any, _args: tuple[Any, ...], kwargs: dict[str, Any]) -> Call:
    model = _models(str(kwargs.get("model", ""))) if kwargs.get("model") else ""
    attributes: dict[str, AttributeValue] = {
        key: value
        for parameter, key in _REQUEST_ATTRIBUTES.items()
        if isinstance(value := kwargs.get(parameter), (int, float)) and not isinstance(value, bool)
    }
    if kwargs.get("stream"):
        attributes[names.GEN_AI_REQUEST_STREAM] = True
    return Call(_chat(model), attributes, _server(instance), _on_result)


def _ended(state: _StreamState | None, exc: BaseException | None) -> None:
    """A stream stopped: exhausted, closed or abandoned by its reader is success, anything else an error."""
    if state is None:
        return
    normal = exc is None or isinstance(exc, (StopIteration, StopAsyncIteration, GeneratorExit))
    state.done(None if normal else exc)


def _stream_hooks(stream_module: ModuleType) -> dict[tuple[type, str], Any]:
    """Replacements for the SDK stream classes' iteration and close, keyed by (class, method)."""
    sync_class, async_class = stream_module.Stream, stream_module.AsyncStream
    original_next, original_iter = sync_class.__next__, sync_class.__iter__
    original_close = sync_class.close
    original_anext, original_aiter = async_class.__anext__, async_class.__aiter__
    original_aclose = async_class.close

    def state_of(stream: Any) -> _StreamState | None:
        return stream.__dict__.get(_STATE)  # type: ignore[no-any-return]

    def next_chunk(self: Any) -> Any:
        state = state_of(self)
        if state is None:
            return original_next(self)
        try:
            item = original_next(self)
        except BaseException as exc:
            _ended(state, exc)
            raise
        state.chunk(item)
        return item

    def iterate(self: Any) -> Iterator[Any]:
        state = state_of(self)
        try:
            for item in original_iter(self):
                if state is not None:
                    state.chunk(item)
                yield item
        except BaseException as exc:
            _ended(state, exc)
            raise
        _ended(state, None)

    def close(self: Any) -> None:
        _ended(state_of(self), None)
        original_close(self)

    async def anext_chunk(self: Any) -> Any:
        state = state_of(self)
        if state is None:
            return await original_anext(self)
        try:
            item = await original_anext(self)
        except BaseException as exc:
            _ended(state, exc)
            raise
        state.chunk(item)
        return item

    async def aiterate(self: Any) -> AsyncIterator[Any]:
        state = state_of(self)
        try:
            async for item in original_aiter(self):
                if state is not None:
                    state.chunk(item)
                yield item
        except BaseException as exc:
            _ended(state, exc)
            raise
        _ended(state, None)

    async def aclose(self: Any) -> None:
        _ended(state_of(self), None)
        await original_aclose(self)

    return {
        (sync_class, "__next__"): next_chunk,
        (sync_class, "__iter__"): iterate,
        (sync_class, "close"): close,
        (async_class, "__anext__"): anext_chunk,
        (async_class, "__aiter__"): aiterate,
        (async_class, "close"): aclose,
    }


class OpenAIInstrumentor(LibraryInstrumentor):
    module = "openai"
    requirement = "openai >= 1.0"

    def patch(self, module: ModuleType) -> None:
        from openai import _streaming
        from openai.resources.chat import completions

        for owner in (completions.Completions, completions.AsyncCompletions):
            self.wrap(owner, "create", _chat(""), _prepare)
        for (stream_class, name), replacement in _stream_hooks(_streaming).items():
            if name not in vars(stream_class):
                self.missing(stream_class, name)
                continue
            self._patcher.replace(stream_class, name, replacement)
