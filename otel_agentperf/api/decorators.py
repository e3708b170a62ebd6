"""Decorators and the ``segment`` context manager: the code-level way to record operations.

Each decorator works bare (``@agent``) or with options (``@agent(name="coach")``) on functions, methods,
static and class methods, coroutines, generators and async generators. With
``OTEL_AGENTPERF_ENABLED=false`` they return the function untouched.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from types import TracebackType
from typing import Any, TypeVar, cast, overload

from otel_agentperf.conventions import names
from otel_agentperf.recording import operations, store_size
from otel_agentperf.recording.invocations import Invocation
from otel_agentperf.recording.operations import Operation
from otel_agentperf.runtime import failures, settings
from otel_agentperf.wrapping.wrappers import Call, start, underlying_function, wrap

F = TypeVar("F", bound=Callable[..., Any])
C = TypeVar("C")


def _qualname_parts(func: Any) -> list[str]:
    function = underlying_function(func)
    qualname = getattr(function, "__qualname__", None) or getattr(function, "__name__", None) or repr(function)
    return str(qualname).split(".")


def owner_name(func: Any) -> str:
    """The class a method is defined in, or the function's own name: the default agent/store name."""
    parts = _qualname_parts(func)
    if len(parts) >= 2 and parts[-2] != "<locals>":
        return parts[-2]
    return parts[-1]


def function_name(func: Any) -> str:
    """``Class.method`` or ``function``, without ``<locals>`` noise: the default loader name."""
    parts = _qualname_parts(func)
    if "<locals>" in parts:
        last_locals = len(parts) - 1 - parts[::-1].index("<locals>")
        parts = parts[last_locals + 1 :]
    return ".".join(parts)


def _decorate(func: Any, build: Callable[[Any], Operation]) -> Any:
    if not settings.current().enabled:
        return func
    return wrap(func, build(func))


def _decorator(func: F | None, build: Callable[[Any], Operation]) -> Any:
    if func is not None:
        return _decorate(func, build)
    return lambda inner: _decorate(inner, build)


@overload
def agent(func: F, *, name: str | None = None) -> F: ...
@overload
def agent(func: None = None, *, name: str | None = None) -> Callable[[F], F]: ...
def agent(func: F | None = None, *, name: str | None = None) -> Any:
    """Record each call as ``invoke_agent {name}``; the name defaults to the method's class."""
    return _decorator(func, lambda f: operations.agent(name or owner_name(f)))


@overload
def tool(func: F, *, name: str | None = None) -> F: ...
@overload
def tool(func: None = None, *, name: str | None = None) -> Callable[[F], F]: ...
def tool(func: F | None = None, *, name: str | None = None) -> Any:
    """Record each call as ``execute_tool {name}``; the name defaults to the function name."""
    return _decorator(func, lambda f: operations.tool(name or underlying_function(f).__name__))


@overload
def workflow(func: F, *, name: str | None = None) -> F: ...
@overload
def workflow(func: None = None, *, name: str | None = None) -> Callable[[F], F]: ...
def workflow(func: F | None = None, *, name: str | None = None) -> Any:
    """Record each call as ``invoke_workflow {name}``; the name defaults to the method's class."""
    return _decorator(func, lambda f: operations.workflow(name or owner_name(f)))


@overload
def llm(func: F, *, model: str | None = None, provider: str | None = None, operation: str = names.OP_CHAT) -> F: ...
@overload
def llm(
    func: None = None, *, model: str | None = None, provider: str | None = None, operation: str = names.OP_CHAT
) -> Callable[[F], F]: ...
def llm(
    func: F | None = None, *, model: str | None = None, provider: str | None = None, operation: str = names.OP_CHAT
) -> Any:
    """Record a hand-written LLM call as ``{operation} {model}`` on the GenAI client duration metric."""
    return _decorator(func, lambda f: operations.llm(function_name(f), model, provider, operation))


@overload
def config(func: F, *, name: str | None = None) -> F: ...
@overload
def config(func: None = None, *, name: str | None = None) -> Callable[[F], F]: ...
def config(func: F | None = None, *, name: str | None = None) -> Any:
    """Record each call as a configuration load named after the loader function."""
    return _decorator(func, lambda f: operations.config(name or function_name(f)))


@overload
def history(func: F, *, store: str | None = None, operation: str | None = None) -> F: ...
@overload
def history(func: None = None, *, store: str | None = None, operation: str | None = None) -> Callable[[F], F]: ...
def history(func: F | None = None, *, store: str | None = None, operation: str | None = None) -> Any:
    """Record each call as a history-store operation (read, append, write, search or delete).

    The store defaults to the method's class, the operation to what the function name implies.
    """

    def build(f: Any) -> Operation:
        op = operation or operations.history_operation_for(underlying_function(f).__name__)
        if operation is not None and operation not in names.HISTORY_OPERATIONS:
            failures.warn_once(
                f"history-op:{operation}",
                "otel-agentperf: @history(operation=%r) on %s: unknown history operation (use one of %s); "
                "recorded as a history operation of no known kind",
                operation,
                function_name(f),
                ", ".join(names.HISTORY_OPERATIONS),
            )
        return operations.history(store or owner_name(f), op)

    def apply(f: Any) -> Any:
        return wrap(f, build(f), measured_store) if settings.current().enabled else f

    return apply(func) if func is not None else apply


def measured_store(instance: Any, _args: tuple[Any, ...], _kwargs: dict[str, Any]) -> Call:
    """A history method's call, with the size of the store it is a method of (see ``store_size``)."""
    return Call(attributes=store_size.of(instance) if instance is not None else None)


def create_agent(cls_or_func: C | None = None, *, name: str | None = None, provider: str | None = None) -> Any:
    """Time agent construction (spawn): on a class, its ``__init__``; on a factory function, each call.

    ``provider`` is the ``gen_ai.provider.name`` the conventions require on the span: only the app knows
    which service the agent it builds will call.
    """

    def apply(target: Any) -> Any:
        if not settings.current().enabled:
            return target
        if isinstance(target, type):
            attribute, wrapper = construction(target, operations.create_agent(name or target.__name__, provider))
            setattr(target, attribute, wrapper)
            return target
        return wrap(target, operations.create_agent(name or owner_name(target), provider))

    return apply(cls_or_func) if cls_or_func is not None else apply


def _inherited(cls: type, attribute: str) -> Any:
    """``attribute`` as the class's MRO defines it short of ``object``, unbound; None if only object does."""
    for klass in cls.__mro__[:-1]:
        if attribute in vars(klass):
            return vars(klass)[attribute]
    return None


def _takes_no_arguments(self: Any, *args: Any, **kwargs: Any) -> None:
    """``object.__init__`` as seen by a class with neither ``__init__`` nor ``__new__`` of its own."""
    if args or kwargs:
        raise TypeError(f"{type(self).__name__}() takes no arguments")


def construction(cls: type, operation: Operation) -> tuple[str, Any]:
    """The attribute to set on ``cls`` and its wrapper, so constructing ``cls`` records ``operation``.

    Construction behaves exactly as without the wrapper, whatever the class defines: the ``__init__`` it
    uses is wrapped; a class with only a ``__new__`` gets that wrapped (a new ``__init__`` would make
    ``object.__init__`` reject its arguments); a class with neither gets an ``__init__`` that refuses
    arguments with the interpreter's own message.
    """
    init = _inherited(cls, "__init__")
    if init is not None:
        return "__init__", wrap(init, operation)
    new = _inherited(cls, "__new__")
    if new is not None:
        return "__new__", wrap(new if isinstance(new, staticmethod) else staticmethod(new), operation)
    return "__init__", wrap(_takes_no_arguments, operation)


# The segments entered and not yet left in this context, innermost last, each with its invocation. A
# context, not the segment, holds them: one segment object may be entered by many tasks and threads at once.
_open_segments: ContextVar[tuple[tuple[segment, Invocation | None], ...]] = ContextVar(
    "agentperf_open_segments", default=()
)


class segment:  # noqa: N801 - used like a function: ``with segment("parse"):``
    """Record a block of code, sync or async, as a nested operation; also usable as a decorator.

    ``with segment("plan"):``, ``async with segment("fetch"):`` and ``@segment("score")`` all record
    a span named after the segment and the ``agentperf.segment.duration`` histogram. One segment object
    can be shared: each entry (in any task or thread) is its own operation.
    """

    __slots__ = ("_operation",)

    def __init__(self, name: str) -> None:
        self._operation: Operation | None = None
        try:
            self._operation = operations.named(names.KIND_SEGMENT, str(name))
        except Exception as exc:
            failures.report("creating a segment", exc)

    def __enter__(self) -> segment:
        operation = self._operation
        invocation = start(operation) if operation is not None and settings.current().enabled else None
        _open_segments.set((*_open_segments.get(), (self, invocation)))
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        entries = _open_segments.get()
        for index in range(len(entries) - 1, -1, -1):
            if entries[index][0] is self:
                invocation = entries[index][1]
                _open_segments.set(entries[:index] + entries[index + 1 :])
                if invocation is not None:
                    invocation.end(exc)
                return

    async def __aenter__(self) -> segment:
        return self.__enter__()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.__exit__(exc_type, exc, tb)

    def __call__(self, func: F) -> F:
        if self._operation is None or not settings.current().enabled:
            return func
        return cast(F, wrap(func, self._operation))
