"""Wraps a callable so each call is recorded as an operation, keeping the callable's nature intact.

The wrapper is a ``wrapt.FunctionWrapper``: signature, ``inspect.iscoroutinefunction`` and friends,
descriptors (methods, static and class methods) behave as on the original. Coroutines are recorded when
awaited, generators and async generators from their first step until exhausted, closed or collected, and
their span is current only while their own code runs, never in the consumer's code between items.
"""

from __future__ import annotations

import importlib
import inspect
import pickle
import sys
from collections.abc import AsyncGenerator, Callable, Coroutine, Generator, Mapping
from time import perf_counter, thread_time_ns
from types import FrameType
from typing import TYPE_CHECKING, Any, NamedTuple

import wrapt
from opentelemetry import context as otel_context
from opentelemetry.instrumentation.utils import is_instrumentation_enabled
from opentelemetry.util.types import AttributeValue

from otel_agentperf.conventions import names
from otel_agentperf.recording import fingerprints, loop_clock, overhead, state
from otel_agentperf.recording.invocations import Invocation, ResultHook
from otel_agentperf.recording.operations import Operation
from otel_agentperf.runtime import failures
from otel_agentperf.runtime.reentry import inside

_frame = sys._getframe  # the calling frame: the wrapper frame that runs an operation
_tick, _MASK = overhead.tick, overhead.MASK  # every EVERY-th operation times its own start and end

Wrapper = Callable[[Callable[..., Any], Any, tuple[Any, ...], dict[str, Any]], Any]


if TYPE_CHECKING:
    _FunctionWrapper = wrapt.FunctionWrapper[..., Any]
    _BoundFunctionWrapper = wrapt.BoundFunctionWrapper[..., Any]
else:  # wrapt 1.x classes are not subscriptable at run time
    _FunctionWrapper = wrapt.FunctionWrapper
    _BoundFunctionWrapper = wrapt.BoundFunctionWrapper


class _Switch:
    __slots__ = ("on",)

    def __init__(self) -> None:
        self.on = True


def resolve(module: str, qualname: str) -> Any:
    """The object named ``qualname`` in ``module``, as pickle finds a function: what unpickling returns."""
    found: Any = importlib.import_module(module)
    for part in qualname.split("."):
        found = getattr(found, part)
    return found


def unbound(obj: Any) -> Any:
    """What a wrapt bound wrapper was bound from (the wrapper itself otherwise).

    Another instrumentation's unwrap that reads the attribute through the class (``getattr``) and sets
    ``__wrapped__`` back leaves our wrapper bound to the class in place; it is still ours.
    """
    parent = getattr(obj, "_self_parent", None) if isinstance(obj, wrapt.BoundFunctionWrapper) else None
    return obj if parent is None else parent


def _by_reference(wrapper: Any) -> tuple[Any, ...]:
    """Pickle ``wrapper`` as pickle does its function: by name, and only if that name finds it again."""
    module, qualname = wrapper.__module__, wrapper.__qualname__
    try:
        found = resolve(module, qualname)
    except Exception:
        found = None
    if found is None or unbound(found) is not unbound(wrapper):
        raise pickle.PicklingError(f"Can't pickle {wrapper.__wrapped__!r}: it's not found as {module}.{qualname}")
    return resolve, (module, qualname)


class _AgentPerfBoundWrapper(_BoundFunctionWrapper):
    """A wrapped method bound to an instance or looked up on a class; pickles and copies as the original."""

    def __reduce_ex__(self, protocol: object) -> tuple[Any, ...]:
        instance = self._self_instance
        if instance is None:
            return _by_reference(self)
        return getattr, (instance, self.__name__)

    def __copy__(self) -> Any:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> Any:
        return self


class AgentPerfWrapper(_FunctionWrapper):
    """Marks callables wrapped by otel-agentperf, so nothing is wrapped twice and unwrapping is exact.

    Like a function, it pickles by reference (module and qualified name) and copies as itself, so
    ``pickle``, process pools and ``copy`` see what they would see without the wrapper.
    """

    __bound_function_wrapper__ = _AgentPerfBoundWrapper
    _self_switch: _Switch

    def __reduce_ex__(self, protocol: object) -> tuple[Any, ...]:
        return _by_reference(self)

    def __copy__(self) -> Any:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> Any:
        return self

    def disable(self) -> None:
        """Pass every later call straight through: for references to the wrapper kept after unwrapping.

        A library may hold on to a wrapped method (the OpenAI SDK's ``with_raw_response`` keeps the bound
        ``create`` it was made from, and LiteLLM caches those clients), so restoring the attribute alone
        would leave such callers recorded after ``uninstrument()``.
        """
        self._self_switch.on = False


class Call(NamedTuple):
    """What a library instrumentor learnt from one call's arguments, before the call runs."""

    operation: Operation | None = None
    attributes: Mapping[str, AttributeValue] | None = None
    metric_attributes: Mapping[str, AttributeValue] | None = None
    on_result: ResultHook | None = None
    on_item: ResultHook | None = None  # generators only: sees each item before the consumer does
    protocol_attributes: Mapping[str, AttributeValue] | None = None  # the operation's protocol metric only


# Inspects (instance, args, kwargs) of a call; None means: do not record this call at all.
Prepare = Callable[[Any, tuple[Any, ...], dict[str, Any]], "Call | None"]


def start(
    operation: Operation,
    prepare: Prepare | None = None,
    instance: Any = None,
    args: tuple[Any, ...] = (),
    kwargs: dict[str, Any] | None = None,
    *,
    attach: bool = True,
    sync: bool = False,
    steps: bool = False,
    frame: FrameType | None = None,
) -> Invocation | None:
    """Begin recording one call; None when suppressed, skipped by ``prepare``, or on any internal error.

    None too when the call comes from otel-agentperf's own work on this thread (see ``reentry``).
    ``frame`` is the wrapper frame that runs the call, noted for the loop monitor while it watches a loop.
    """
    if inside.on or not is_instrumentation_enabled():
        return None
    inside.on = True
    began = 0 if next(_tick) & _MASK else thread_time_ns()
    try:
        if prepare is None:
            invocation = state.telemetry().start(operation, attach=attach, sync=sync, steps=steps)
        else:
            call = prepare(instance, args, kwargs or {})
            if call is None:
                return None
            invocation = state.telemetry().start(
                call.operation or operation,
                call.attributes,
                call.metric_attributes,
                attach=attach,
                sync=sync,
                steps=steps,
                on_result=call.on_result,
                on_item=call.on_item,
            )
            if call.protocol_attributes:
                invocation.add_protocol_attributes(call.protocol_attributes)
        kind = invocation.kind
        if (kind == names.KIND_TOOL or kind == names.KIND_LLM) and invocation.in_request():
            # A model call is the same request whichever client object sends it; a tool, on the same object.
            on = None if kind == names.KIND_LLM else instance
            invocation.note_call(fingerprints.of_call(operation.span_name, on, args, kwargs or {}))
        if frame is not None and loop_clock.watching():
            invocation.runs_in(frame)
        if began:
            invocation.own_ns = thread_time_ns() - began or 1
        return invocation
    except Exception as exc:
        failures.report(f"starting {operation.kind} operation", exc)
        return None
    finally:
        inside.on = False


def underlying_function(obj: Any) -> Any:
    """The plain function behind a static/class method or a wrapper, to decide how calls behave."""
    if isinstance(obj, (staticmethod, classmethod)):
        obj = obj.__func__
    return inspect.unwrap(obj) if callable(obj) else obj


def wrap(target: Any, operation: Operation, prepare: Prepare | None = None) -> AgentPerfWrapper:
    """Return ``target`` (function, method descriptor) wrapped to record ``operation`` on every call.

    ``prepare``, when given, sees each call's arguments first: it may add attributes, pick another
    operation, attach a result hook, or return None to leave that call unrecorded.
    """
    function = underlying_function(target)
    switch = _Switch()
    if inspect.isasyncgenfunction(function):
        wrapper = _async_generator_wrapper(operation, prepare, switch)
    elif inspect.iscoroutinefunction(function):
        wrapper = _coroutine_wrapper(operation, prepare, switch)
    elif inspect.isgeneratorfunction(function):
        wrapper = _generator_wrapper(operation, prepare, switch)
    else:
        wrapper = _sync_wrapper(operation, prepare, switch)
    result = AgentPerfWrapper(target, wrapper)
    result._self_switch = switch
    return result


# Each wrapper reads its switch itself (no extra frame per call: a recursive wrapped function keeps its depth).
def _sync_wrapper(operation: Operation, prepare: Prepare | None, switch: _Switch) -> Wrapper:
    def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        invocation = start(operation, prepare, instance, args, kwargs, sync=True, frame=_frame()) if switch.on else None
        if invocation is None:
            return wrapped(*args, **kwargs)
        try:
            result = wrapped(*args, **kwargs)
        except BaseException as exc:
            invocation.end(exc)
            raise
        invocation.end(result=result)
        return result

    return wrapper


def _coroutine_wrapper(operation: Operation, prepare: Prepare | None, switch: _Switch) -> Wrapper:
    def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        coroutine = wrapped(*args, **kwargs)
        if not switch.on:
            return coroutine
        recorded: Any = _awaited(coroutine, operation, prepare, instance, args, kwargs)
        qualname = getattr(coroutine, "__qualname__", None)
        if qualname is not None:  # task reprs and "never awaited" warnings name the coroutine
            recorded.__name__, recorded.__qualname__ = coroutine.__name__, qualname
        return recorded

    return wrapper


async def _awaited(
    coroutine: Coroutine[Any, Any, Any],
    operation: Operation,
    prepare: Prepare | None,
    instance: Any,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> Any:
    invocation = start(operation, prepare, instance, args, kwargs, frame=_frame())
    if invocation is None:
        return await coroutine
    try:
        result = await coroutine
    except BaseException as exc:
        invocation.end(exc)
        raise
    invocation.end(result=result)
    return result


def _generator_wrapper(operation: Operation, prepare: Prepare | None, switch: _Switch) -> Wrapper:
    def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        if not switch.on:
            return wrapped(*args, **kwargs)
        return _stepped(wrapped(*args, **kwargs), (operation, prepare, instance, args, kwargs))

    return wrapper


def _stepped(generator: Generator[Any, Any, Any], how: tuple[Any, ...]) -> Generator[Any, Any, Any]:
    invocation = start(*how, attach=False, sync=True, steps=True, frame=_frame())
    if invocation is None:
        return (yield from generator)
    ctx = invocation.context
    sent: Any = None
    thrown: BaseException | None = None
    try:
        while True:
            token = otel_context.attach(ctx)
            began = perf_counter()
            try:
                if thrown is not None:
                    exc, thrown = thrown, None
                    item = generator.throw(exc)
                else:
                    item = generator.send(sent)
            finally:
                invocation.hold(perf_counter() - began)  # its own code ran: the consumer's, between items, did not
                otel_context.detach(token)
            invocation.item(item)
            try:
                sent = yield item
            except GeneratorExit:
                raise
            except BaseException as exc:
                thrown = exc
    except StopIteration as stop:
        invocation.end()
        return stop.value
    except GeneratorExit:
        token = otel_context.attach(ctx)
        try:
            generator.close()
        except BaseException as exc:
            invocation.end(exc)
            raise
        finally:
            otel_context.detach(token)
        invocation.end()
        raise
    except BaseException as exc:
        invocation.end(exc)
        raise


def _async_generator_wrapper(operation: Operation, prepare: Prepare | None, switch: _Switch) -> Wrapper:
    def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        if not switch.on:
            return wrapped(*args, **kwargs)
        return _async_stepped(wrapped(*args, **kwargs), (operation, prepare, instance, args, kwargs))

    return wrapper


async def _async_stepped(generator: AsyncGenerator[Any, Any], how: tuple[Any, ...]) -> AsyncGenerator[Any, Any]:
    invocation = start(*how, attach=False, frame=_frame())
    ctx = invocation.context if invocation is not None else None
    sent: Any = None
    thrown: BaseException | None = None
    try:
        while True:
            token = otel_context.attach(ctx) if ctx is not None else None
            try:
                if thrown is not None:
                    exc, thrown = thrown, None
                    item = await generator.athrow(exc)
                else:
                    item = await generator.asend(sent)
            finally:
                if token is not None:
                    otel_context.detach(token)
            if invocation is not None:
                invocation.item(item)
            try:
                sent = yield item
            except GeneratorExit:
                raise
            except BaseException as exc:
                thrown = exc
    except StopAsyncIteration:
        if invocation is not None:
            invocation.end()
        return
    except GeneratorExit:
        token = otel_context.attach(ctx) if ctx is not None else None
        try:
            await generator.aclose()
        except BaseException as exc:
            if invocation is not None:
                invocation.end(exc)
            raise
        finally:
            if token is not None:
                otel_context.detach(token)
        if invocation is not None:
            invocation.end()
        raise
    except BaseException as exc:
        if invocation is not None:
            invocation.end(exc)
        raise
