"""Streams of the Stainless-generated SDKs (OpenAI, Anthropic), followed to their end without being replaced.

A streaming call returns the SDK's own ``Stream``/``AsyncStream``. Those objects are never replaced: the
classes' iteration and ``close`` are hooked once, and a stream started by an instrumented call carries a
:class:`StreamState` in its ``__dict__`` that ends the operation when the stream is exhausted, closed,
fails or is collected. Streams the application made without an instrumented call pass straight through.
"""

from __future__ import annotations

import inspect
import sys
import weakref
from collections.abc import AsyncIterator, Callable, Iterator
from time import perf_counter
from types import ModuleType
from typing import Any

from opentelemetry import context as otel_context

from otel_agentperf.recording.invocations import LLMInvocation
from otel_agentperf.runtime import failures

from . import content, extractors, patch

STATE = "_otel_agentperf_stream"
_frame = sys._getframe  # the frame that runs a step: where the loop monitor finds the stream's operation
# Reads one streamed item (chunk or event) into the stream's state.
Reader = Callable[["StreamState", Any], None]


class StreamState:
    """Follows one stream for its invocation; holds no reference to the stream itself."""

    __slots__ = (
        "finalizer",
        "finish_reasons",
        "invocation",
        "limit",
        "read",
        "response_id",
        "response_model",
        "stepping",
        "texts",
        "tool_calls",
        "usage",
    )

    def __init__(self, invocation: LLMInvocation, read: Reader) -> None:
        self.invocation = invocation
        self.read = read
        self.finish_reasons: list[str] = []
        self.response_id: str | None = None
        self.response_model: str | None = None
        self.usage: list[int | None] = [None, None, None, None]  # input, output, cache read, cache write
        capture = content.enabled()
        self.texts: list[str] | None = [] if capture else None
        # Streamed tool calls by index: [id, name, argument fragments], kept only with content capture.
        self.tool_calls: dict[int, list[Any]] | None = {} if capture else None
        self.limit = content.max_length() if capture else 0
        self.finalizer: weakref.finalize[Any, Any] | None = None
        # True while the stream computes its next item: a stream that closes itself on a failed step
        # (LiteLLM's) must end as that step's failure, not as a close.
        self.stepping = False

    def follow(self, stream: Any) -> None:
        """Attach to ``stream`` (moving from a stream manager, if one held it until now).

        A state already on the stream is an inner layer's (LiteLLM's stream returned through its Router,
        both operations folded into one): it ends now, and this outer one reads the same items.
        """
        if self.finalizer is not None:
            self.finalizer.detach()
        previous = stream.__dict__.get(STATE)
        if isinstance(previous, StreamState) and previous is not self:
            previous.done()
        stream.__dict__[STATE] = self
        self.finalizer = weakref.finalize(stream, self.done)

    def model(self, model: Any) -> None:
        """The response model, the first time the stream names it: on the operation at once, so the
        chunk timings, which carry it, are recorded from then on in batches as the chunks arrive."""
        if model and self.response_model is None:
            self.response_model = model
            extractors.set_response(self.invocation, None, model, ())

    def text(self, delta: Any) -> None:
        if self.texts is not None and isinstance(delta, str) and sum(map(len, self.texts)) < self.limit:
            self.texts.append(delta)

    def tool_call(self, index: int, call_id: Any, name: Any, arguments: Any) -> None:
        """A streamed piece of tool call ``index``: its id and name come once, its arguments in fragments."""
        if self.tool_calls is None:
            return
        call = self.tool_calls.setdefault(index, [None, None, []])
        call[0], call[1] = call[0] or call_id, call[1] or name
        if isinstance(arguments, str) and sum(map(len, call[2])) < self.limit:
            call[2].append(arguments)

    def done(self, error: BaseException | None = None) -> None:
        if self.finalizer is not None:
            self.finalizer.detach()
        invocation = self.invocation
        try:
            if any(value is not None for value in self.usage):
                invocation.set_usage(*self.usage)
            output = None
            if self.texts is not None:
                text = "".join(self.texts)
                calls = [(i, n, "".join(a)) for i, n, a in (self.tool_calls or {}).values()]
                # A turn that only calls tools has no text part, not an empty one.
                texts = [text] if text or not calls else []
                output = content.output(texts, next(iter(self.finish_reasons), None), self.limit, calls)
            extractors.set_response(invocation, self.response_id, self.response_model, self.finish_reasons, output)
        except Exception as exc:
            failures.report("reading a stream's result", exc)
        invocation.finish(error)


def follow_stream(invocation: LLMInvocation, stream: Any, read: Reader) -> None:
    """The call returned a stream: its operation goes on until the stream ends."""
    StreamState(invocation, read).follow(stream)
    invocation.defer()


def _state(stream: Any) -> StreamState | None:
    found = getattr(stream, "__dict__", {}).get(STATE)
    return found if isinstance(found, StreamState) else None


def _ended(state: StreamState | None, exc: BaseException | None) -> None:
    """A stream stopped: exhausted, closed or abandoned by its reader is success, anything else an error."""
    if state is None:
        return
    normal = exc is None or isinstance(exc, (StopIteration, StopAsyncIteration, GeneratorExit))
    state.done(None if normal else exc)


def _read(state: StreamState | None, item: Any) -> None:
    if state is None:
        return
    try:
        state.read(state, item)
    except Exception as exc:
        failures.report("reading a streamed item", exc)


# A stream's steps are its operation's own code: while one runs, the step's frame names the operation for
# the loop monitor (a block inside it is the model call's, not the code reading the stream), and a
# synchronous step on a loop's thread holds that loop for as long as it runs (``Invocation.hold``).


def _next_hook(original: Any) -> Any:
    def next_item(self: Any) -> Any:
        state = _state(self)
        if state is None:
            return original(self)
        invocation = state.invocation
        began = perf_counter()
        invocation.steps_in(_frame())
        state.stepping = True
        try:
            item = original(self)
        except BaseException as exc:
            _stepped(invocation, began)
            _ended(state, exc)
            raise
        finally:
            state.stepping = False
        _read(state, item)
        _stepped(invocation, began)
        return item

    return next_item


def _iter_hook(original: Any) -> Any:
    def iterate(self: Any) -> Iterator[Any]:
        state = _state(self)
        invocation = state.invocation if state is not None else None
        frame = _frame()
        began: float | None = perf_counter()
        try:
            if invocation is not None:
                invocation.steps_in(frame)
            for item in original(self):
                _read(state, item)
                _stepped(invocation, began)
                began = None  # the consumer's code runs from here to the next step
                yield item
                began = perf_counter()
                if invocation is not None:
                    invocation.steps_in(frame)
        except BaseException as exc:
            _stepped(invocation, began)
            _ended(state, exc)
            raise
        _stepped(invocation, began)
        _ended(state, None)

    return iterate


def _anext_hook(original: Any) -> Any:
    async def anext_item(self: Any) -> Any:
        state = _state(self)
        if state is None:
            return await original(self)
        invocation = state.invocation
        invocation.steps_in(_frame())
        state.stepping = True
        try:
            item = await original(self)
        except BaseException as exc:
            _ended(state, exc)
            raise
        finally:
            state.stepping = False
            invocation.steps_in(None)
        _read(state, item)
        return item

    return anext_item


def _aiter_hook(original: Any) -> Any:
    async def aiterate(self: Any) -> AsyncIterator[Any]:
        state = _state(self)
        invocation = state.invocation if state is not None else None
        frame = _frame()
        try:
            if invocation is not None:
                invocation.steps_in(frame)
            async for item in original(self):
                _read(state, item)
                if invocation is not None:
                    invocation.steps_in(None)
                yield item
                if invocation is not None:
                    invocation.steps_in(frame)
        except BaseException as exc:
            if invocation is not None:
                invocation.steps_in(None)
            _ended(state, exc)
            raise
        if invocation is not None:
            invocation.steps_in(None)
        _ended(state, None)

    return aiterate


def _closed(stream: Any) -> None:
    state = _state(stream) or _state(getattr(stream, "_raw_stream", None))
    if state is not None and not state.stepping:
        _ended(state, None)


def close_hook(original: Any) -> Any:
    """Ends the operation of a stream closed before its end: on the stream, or a helper stream's raw one.

    Helper streams (what ``.stream()`` managers open) close their HTTP response, not the raw stream.
    A close the stream makes itself while computing an item leaves the ending to that step.
    """

    if inspect.iscoroutinefunction(original):

        async def aclose(self: Any) -> None:
            _closed(self)
            await original(self)

        return aclose

    def close(self: Any) -> None:
        _closed(self)
        original(self)

    return close


def enter_hook(original: Any) -> Any:
    """A stream manager whose request is made on ``with``: hand its state to the stream it opens.

    The request is the operation's, so the operation's context is current while it is made: what the SDK
    and the HTTP client do for it (the SDK's own span, our stand-in for it, the attempts) knows it.
    """

    def moved(self: Any, opened: Any) -> None:
        state = self.__dict__.pop(STATE, None)
        if isinstance(state, StreamState):
            state.follow(getattr(opened, "_raw_stream", opened))

    def attach(self: Any) -> object:
        state = self.__dict__.get(STATE)
        try:
            return otel_context.attach(state.invocation.context) if isinstance(state, StreamState) else None
        except Exception as exc:
            failures.report("entering a stream manager", exc)
            return None

    if inspect.iscoroutinefunction(original):

        async def aenter(self: Any) -> Any:
            token = attach(self)
            try:
                opened = await original(self)
            except BaseException as exc:
                _ended(self.__dict__.pop(STATE, None), exc)
                raise
            finally:
                _detach(token)
            moved(self, opened)
            return opened

        return aenter

    def enter(self: Any) -> Any:
        token = attach(self)
        state = self.__dict__.get(STATE)
        invocation = state.invocation if isinstance(state, StreamState) else None
        began = perf_counter()
        if invocation is not None:  # the request, made here synchronously: a step of the stream's operation
            invocation.steps_in(_frame())
        try:
            opened = original(self)
        except BaseException as exc:
            _stepped(invocation, began)
            _ended(self.__dict__.pop(STATE, None), exc)
            raise
        finally:
            _detach(token)
        _stepped(invocation, began)
        moved(self, opened)
        return opened

    return enter


def _stepped(invocation: LLMInvocation | None, began: float | None) -> None:
    """A synchronous step of ``invocation``'s stream that began at ``began`` is over (None: none was going on:
    the consumer stopped at an item it had been handed)."""
    if invocation is not None:
        if began is not None:
            invocation.hold(perf_counter() - began)
        invocation.steps_in(None)


def _detach(token: object) -> None:
    if token is not None:
        try:
            otel_context.detach(token)  # type: ignore[arg-type]
        except Exception as exc:
            failures.report("leaving a stream manager", exc)


def iterator_hooks(stream_class: type) -> dict[tuple[type, str], patch.Hook]:
    """Hooks for a stream class that is its own iterator, sync and async (LiteLLM's ``CustomStreamWrapper``).

    ``__iter__``/``__aiter__`` return the stream itself there, so only stepping and closing are hooked.
    """
    return {
        (stream_class, "__next__"): _next_hook,
        (stream_class, "__anext__"): _anext_hook,
        (stream_class, "close"): close_hook,
        (stream_class, "aclose"): close_hook,
    }


def stream_hooks(stream_module: ModuleType) -> dict[tuple[type, str], patch.Hook]:
    """Hooks for a Stainless SDK's ``Stream``/``AsyncStream`` iteration and close."""
    sync_class, async_class = stream_module.Stream, stream_module.AsyncStream
    return {
        (sync_class, "__next__"): _next_hook,
        (sync_class, "__iter__"): _iter_hook,
        (sync_class, "close"): close_hook,
        (async_class, "__anext__"): _anext_hook,
        (async_class, "__aiter__"): _aiter_hook,
        (async_class, "close"): close_hook,
    }
