"""An MCP client's requests: each ``ClientSession`` request method recorded when awaited, and the SDK
dispatcher's span for that request handed ours, so there is one span per call."""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from opentelemetry.trace import Span, SpanKind

from otel_agentperf.conventions import names
from otel_agentperf.recording.operations import Operation
from otel_agentperf.runtime import failures
from otel_agentperf.wrapping import wrappers
from otel_agentperf.wrapping.wrappers import Call

from .mcp_operations import method_operation, protocol_error, tool_operation, tool_result
from .mcp_transports import transport_attributes

# The client operation now running in this task, by its MCP method: the dispatcher's span for that
# request is this operation's span.
_RUNNING: ContextVar[tuple[str, Span] | None] = ContextVar("otel_agentperf_mcp_request", default=None)


# ClientSession methods: (MCP method, the keyword naming its target, the target's attribute).
CLIENT_METHODS: dict[str, tuple[str, str | None, str | None]] = {
    "call_tool": (names.MCP_TOOLS_CALL, "name", names.GEN_AI_TOOL_NAME),
    "list_tools": (names.MCP_TOOLS_LIST, None, None),
    "list_resources": (names.MCP_RESOURCES_LIST, None, None),
    "list_resource_templates": (names.MCP_RESOURCE_TEMPLATES_LIST, None, None),
    "read_resource": (names.MCP_RESOURCES_READ, "uri", names.MCP_RESOURCE_URI),
    "list_prompts": (names.MCP_PROMPTS_LIST, None, None),
    "get_prompt": (names.MCP_PROMPTS_GET, "name", names.GEN_AI_PROMPT_NAME),
}


def _argument(args: tuple[Any, ...], kwargs: dict[str, Any], keyword: str) -> Any:
    return kwargs[keyword] if keyword in kwargs else (args[0] if args else None)


def _client_preparer(method: str, keyword: str | None, attribute: str | None) -> wrappers.Prepare:
    def prepare(instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Call | None:
        target = _argument(args, kwargs, keyword) if keyword else None
        attributes, measured = transport_attributes(instance)
        version = getattr(instance, "protocol_version", None)
        if isinstance(version, str):
            measured[names.MCP_PROTOCOL_VERSION] = version
        attributes.update(measured)
        if method == names.MCP_TOOLS_CALL:
            operation = tool_operation(str(target), False)
            return Call(operation, attributes, on_result=tool_result, protocol_attributes=measured)
        if attribute is not None and target is not None:
            attributes[attribute] = str(target)
        prompt = str(target) if method == names.MCP_PROMPTS_GET and target is not None else ""
        return Call(method_operation(method, prompt), attributes, metric_attributes=measured)

    return prepare


async def _client_call(
    coroutine: Coroutine[Any, Any, Any],
    default: Operation,
    prepare: wrappers.Prepare,
    method: str,
    instance: Any,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> Any:
    invocation = wrappers.start(default, prepare, instance, args, kwargs)
    if invocation is None:
        return await coroutine
    running = _RUNNING.set((method, invocation.span))
    try:
        result = await coroutine
    except BaseException as exc:
        _RUNNING.reset(running)
        protocol_error(invocation, exc)
        invocation.end(exc)
        raise
    _RUNNING.reset(running)
    invocation.end(result=result)
    return result


def client_hook(method: str, keyword: str | None, attribute: str | None) -> wrappers.Wrapper:
    """A ClientSession coroutine method, recorded when awaited; its coroutine keeps the method's names."""
    default = method_operation(method) if method != names.MCP_TOOLS_CALL else tool_operation("tool", False)
    prepare = _client_preparer(method, keyword, attribute)

    def hook(wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        coroutine = wrapped(*args, **kwargs)
        recorded: Any = _client_call(coroutine, default, prepare, method, instance, args, kwargs)
        recorded.__name__, recorded.__qualname__ = coroutine.__name__, coroutine.__qualname__
        return recorded

    return hook


def dispatcher_span(original: Any) -> Any:
    """The dispatcher's span for a request our running client operation made is that operation's span."""

    @contextmanager
    def otel_span(name: str, *, kind: SpanKind, attributes: dict[str, Any] | None = None, **kw: Any) -> Iterator[Any]:
        running = _RUNNING.get()
        given = attributes or {}
        method = given.get(names.MCP_METHOD_NAME)
        if running is None or kind is not SpanKind.CLIENT or method != running[0]:
            with original(name, kind=kind, attributes=attributes, **kw) as span:
                yield span
            return
        span = running[1]
        try:
            span.set_attributes({key: value for key, value in given.items() if key != names.MCP_METHOD_NAME})
        except Exception as exc:
            failures.report("adding MCP request attributes", exc)
        yield span

    return otel_span
