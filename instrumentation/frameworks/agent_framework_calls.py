"""How an Agent Framework run or chat call is followed: an awaitable recorded when awaited, or a
``ResponseStream`` followed to its end (current around each pull, ended by its cleanup), with the call's
instance in the context so the framework's layers of that same call pass through."""

from __future__ import annotations

import contextlib
import inspect
import weakref
from collections.abc import Callable, Iterator
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry.context import Context

from otel_agentperf.recording.invocations import Invocation, LLMInvocation
from otel_agentperf.recording.operations import Operation
from otel_agentperf.recording.telemetry import running_operation
from otel_agentperf.runtime import failures
from otel_agentperf.wrapping.wrappers import Prepare, Wrapper, start

# What the instance of a run or chat call in progress is: (instance, its operation), so the layers of one
# call under it pass through.
_CALL_KEY = otel_context.create_key("agentperf-agent-framework-call")
# Reads a streamed LLM operation's updates: made per operation, called with each update.
Updates = Callable[[LLMInvocation], Callable[[Any], None]]


class Switch:
    """On while the instrumentor is, for the call hooks and the span helpers' hooks alike: off once
    uninstrumented, a module that imported a hooked helper by name keeps the hook, inert."""

    on = False


def in_progress(instance: Any) -> bool:
    """Whether this instance's run or chat call is the operation running (a layer of that same call)."""
    found = otel_context.get_value(_CALL_KEY)
    return isinstance(found, tuple) and found[0] is instance and running_operation() is found[1]


def _marked(invocation: Invocation, instance: Any) -> Context:
    """The operation's context, naming the instance it runs for."""
    invocation.context = otel_context.set_value(_CALL_KEY, (instance, invocation), invocation.context)
    return invocation.context


@contextlib.contextmanager
def _current(context: Context) -> Iterator[None]:
    token = otel_context.attach(context)
    try:
        yield
    finally:
        otel_context.detach(token)


class _StreamEnd:
    """The stream's cleanup hook: ends the operation, with the error the stream ended with, if any.

    Holds the stream weakly (the stream holds this hook); a stream collected unread ends the operation too.
    """

    __slots__ = ("collected", "invocation", "stream")

    def __init__(self, invocation: Invocation, stream: Any) -> None:
        self.invocation = invocation
        self.stream = weakref.ref(stream)
        self.collected = weakref.finalize(stream, invocation.finish)

    def __call__(self) -> None:
        self.collected.detach()
        stream = self.stream()
        error = getattr(stream, "_stream_error", None) if stream is not None else None
        self.invocation.finish(error if isinstance(error, BaseException) else None)


def _follow(invocation: Invocation, context: Context, stream: Any, updates: Updates | None) -> None:
    """Keep the operation going with ``stream``: current around each pull, ended by the stream's cleanup."""
    stream.with_pull_context_manager(lambda: _current(context))
    if updates is not None and isinstance(invocation, LLMInvocation):
        stream.with_transform_hook(updates(invocation))
    stream.with_cleanup_hook(_StreamEnd(invocation, stream))


def _streamed(
    wrapped: Any,
    instance: Any,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    operation: Operation,
    prepare: Prepare,
    updates: Updates | None,
) -> Any:
    invocation = start(operation, prepare, instance, args, kwargs, attach=False)
    if invocation is None:
        return wrapped(*args, **kwargs)
    context = _marked(invocation, instance)
    token = otel_context.attach(context)
    try:
        stream = wrapped(*args, **kwargs)
    except BaseException as exc:
        invocation.end(exc)
        raise
    finally:
        otel_context.detach(token)
    try:
        if callable(getattr(stream, "with_cleanup_hook", None)):
            _follow(invocation, context, stream, updates)
        else:  # not a ResponseStream: nothing tells when it ends
            invocation.end(result=stream)
    except Exception as exc:
        failures.report("following an Agent Framework stream", exc)
        invocation.end(result=stream)
    return stream


async def _awaited(
    awaitable: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any], operation: Operation, prepare: Prepare
) -> Any:
    invocation = start(operation, prepare, instance, args, kwargs, attach=False)
    if invocation is None:
        return await awaitable
    _marked(invocation, instance)
    invocation.attach()
    try:
        result = await awaitable
    except BaseException as exc:
        invocation.end(exc)
        raise
    invocation.end(result=result)
    return result


def call_hook(operation: Operation, prepare: Prepare, updates: Updates | None = None) -> Wrapper:
    """Hook for ``run``/``get_response``: an awaitable recorded when awaited, or a stream followed to its end
    (each update read by ``updates``, when given, for an LLM operation)."""

    def hook(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        if not Switch.on:
            return wrapped(*args, **kwargs)
        if kwargs.get("stream"):
            return _streamed(wrapped, instance, args, kwargs, operation, prepare, updates)
        result = wrapped(*args, **kwargs)
        if not inspect.isawaitable(result):
            return result
        recorded: Any = _awaited(result, instance, args, kwargs, operation, prepare)
        name = getattr(result, "__qualname__", None)
        if isinstance(name, str):  # task reprs and "never awaited" warnings name the framework's coroutine
            recorded.__name__, recorded.__qualname__ = getattr(result, "__name__", name), name
        return recorded

    return hook
