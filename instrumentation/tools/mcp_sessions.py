"""MCP (the ``mcp`` SDK, 2.x): client tool calls and listings, and the server's handling of a tool call.

Client: ``ClientSession.call_tool`` is a tool operation, ``execute_tool {tool}`` (CLIENT), recorded in
``gen_ai.execute_tool.duration`` and counted into the enclosing agent like any tool call;
``list_tools``, ``list_resources``, ``list_resource_templates``, ``read_resource``, ``list_prompts`` and
``get_prompt`` are segment operations named by their MCP method (``tools/list``, ``prompts/get {prompt}``;
CLIENT spans, ``agentperf.segment.duration`` with ``agentperf.segment.name`` = the method): they are
neither tool executions nor model calls, and a segment is the package's kind for timed work of another
nature. Each carries the MCP conventions' attributes (``mcp.method.name``, ``mcp.protocol.version``,
``gen_ai.tool.name``/``gen_ai.prompt.name``, ``mcp.resource.uri`` on the span only), and what the
session's transport tells: ``network.transport`` (``pipe`` for stdio, ``tcp`` for streamable HTTP) and,
over HTTP, ``mcp.session.id`` (the id the server gave the session), ``network.protocol.name`` and
``server.address``/``server.port`` from its URL. The transports are known by the write stream they hand
the session: streamable HTTP's ``post_writer`` receives it; ``stdio_client`` is replaced in its module, so
a ``stdio_client`` bound by an import made before instrumenting is not known, and its calls carry no
transport (the conventions recommend it; nothing is guessed).

The SDK has OpenTelemetry of its own: its JSON-RPC dispatcher opens a CLIENT span per request and injects
the trace context into ``params._meta``; its server middleware opens a SERVER span under the context it
extracts. While one of our client operations runs, the dispatcher's span for that very request is ours
(``otel_span`` is replaced): the SDK's attributes (``jsonrpc.request.id``, JSON-RPC error codes) land on
it and the injected ``traceparent`` names it, so the server's span is its child and there is one span per
call. The server middleware is replaced for ``tools/call`` only: ``tools/call {tool}`` (SERVER) under the
client's context, with ``mcp.session.id`` (HTTP) and ``network.transport``.

Errors: a JSON-RPC error is ``error.type`` = its code (as the conventions ask), a result with ``isError``
is ``tool_error``, any other exception (a server that died mid-call) its class. The SDK's return values
and exceptions are never replaced. No tool arguments or results are recorded.
"""

from __future__ import annotations

import contextlib
import functools
import weakref
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit

import wrapt
from opentelemetry import context as otel_context
from opentelemetry.trace import Span, SpanKind
from opentelemetry.util.types import AttributeValue

from otel_agentperf.conventions import names
from otel_agentperf.recording.invocations import Invocation
from otel_agentperf.recording.operations import Operation
from otel_agentperf.runtime import failures
from otel_agentperf.wrapping import wrappers
from otel_agentperf.wrapping.library import LibraryInstrumentor
from otel_agentperf.wrapping.wrappers import Call

# The client operation now running in this task, by its MCP method: the dispatcher's span for that
# request is this operation's span.
_RUNNING: ContextVar[tuple[str, Span] | None] = ContextVar("otel_agentperf_mcp_request", default=None)

# The transport behind a session's write stream: "pipe", or the streamable HTTP transport itself (whose
# session id arrives with the server's first answer).
_TRANSPORTS: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()
_DEFAULT_PORTS = {"http": 80, "https": 443}


def _key(stream: Any) -> Any:
    """The stream itself, or the anyio stream inside the SDK's context-carrying wrapper (which has slots)."""
    return getattr(stream, "_inner", stream)


def _known(stream: Any, transport: Any) -> None:
    # A stream type that takes no weak reference is left out: its calls carry no transport.
    with contextlib.suppress(TypeError):
        _TRANSPORTS[_key(stream)] = transport


def _transport_attributes(session: Any) -> dict[str, AttributeValue]:
    """What the session's transport tells: network.transport, and over HTTP its session id and server."""
    stream = getattr(getattr(session, "_dispatcher", None), "_write_stream", None)
    try:
        transport = _TRANSPORTS.get(_key(stream)) if stream is not None else None
    except TypeError:
        return {}
    if transport is None:
        return {}
    if transport == names.NETWORK_TRANSPORT_PIPE:
        return {names.NETWORK_TRANSPORT: names.NETWORK_TRANSPORT_PIPE}
    attributes: dict[str, AttributeValue] = {
        names.NETWORK_TRANSPORT: names.NETWORK_TRANSPORT_TCP,
        names.NETWORK_PROTOCOL_NAME: "http",
    }
    session_id = getattr(transport, "session_id", None)
    if isinstance(session_id, str):
        attributes[names.MCP_SESSION_ID] = session_id
    url = urlsplit(str(getattr(transport, "url", "")))
    if url.hostname:
        attributes[names.SERVER_ADDRESS] = url.hostname
        port = url.port or _DEFAULT_PORTS.get(url.scheme)
        if port is not None:
            attributes[names.SERVER_PORT] = port
    return attributes


def _post_writer_hook(wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """``StreamableHTTPTransport.post_writer(client, reader, writer, write_stream, ...)``: the session's stream."""
    stream = kwargs.get("write_stream", args[3] if len(args) > 3 else None)
    if stream is not None:
        _known(stream, instance)
    return wrapped(*args, **kwargs)


class _StdioStreams(wrapt.ObjectProxy):  # type: ignore[type-arg]
    """``stdio_client(...)``'s context manager, whose streams are known as a pipe once entered."""

    async def __aenter__(self) -> Any:
        streams = await self.__wrapped__.__aenter__()
        try:
            _known(streams[1], names.NETWORK_TRANSPORT_PIPE)
        except Exception as exc:
            failures.report("noting an MCP stdio transport", exc)
        return streams

    async def __aexit__(self, *exc_info: Any) -> Any:
        return await self.__wrapped__.__aexit__(*exc_info)


def _stdio_client(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def stdio_client(*args: Any, **kwargs: Any) -> Any:
        return _StdioStreams(original(*args, **kwargs))

    return stdio_client


# ClientSession methods: (MCP method, the keyword naming its target, the target's attribute).
_CLIENT_METHODS: dict[str, tuple[str, str | None, str | None]] = {
    "call_tool": (names.MCP_TOOLS_CALL, "name", names.GEN_AI_TOOL_NAME),
    "list_tools": (names.MCP_TOOLS_LIST, None, None),
    "list_resources": (names.MCP_RESOURCES_LIST, None, None),
    "list_resource_templates": (names.MCP_RESOURCE_TEMPLATES_LIST, None, None),
    "read_resource": (names.MCP_RESOURCES_READ, "uri", names.MCP_RESOURCE_URI),
    "list_prompts": (names.MCP_PROMPTS_LIST, None, None),
    "get_prompt": (names.MCP_PROMPTS_GET, "name", names.GEN_AI_PROMPT_NAME),
}


@functools.lru_cache(maxsize=1024)
def tool_operation(tool: str, server: bool) -> Operation:
    """``execute_tool {tool}`` on the client, ``tools/call {tool}`` on the server; built once per tool.

    Spans keep the name; metric values are bounded per meter (``bounded.Bounds``), not here.
    """
    metric_attributes = {
        names.GEN_AI_OPERATION_NAME: names.OP_EXECUTE_TOOL,
        names.GEN_AI_TOOL_NAME: tool,
        names.MCP_METHOD_NAME: names.MCP_TOOLS_CALL,
    }
    span_name = f"{names.MCP_TOOLS_CALL if server else names.OP_EXECUTE_TOOL} {tool}"
    kind = SpanKind.SERVER if server else SpanKind.CLIENT
    return Operation(names.KIND_TOOL, tool, span_name, metric_attributes, span_kind=kind)


@functools.lru_cache(maxsize=1024)
def method_operation(method: str, prompt: str = "") -> Operation:
    """A listing, read or prompt request: a segment named by its method; a prompt's name is in the span name."""
    metric_attributes = {names.SEGMENT_NAME: method, names.MCP_METHOD_NAME: method}
    span_name = f"{method} {prompt}" if prompt else method
    return Operation(names.KIND_SEGMENT, method, span_name, metric_attributes, span_kind=SpanKind.CLIENT)


def _argument(args: tuple[Any, ...], kwargs: dict[str, Any], keyword: str) -> Any:
    return kwargs[keyword] if keyword in kwargs else (args[0] if args else None)


def _client_preparer(method: str, keyword: str | None, attribute: str | None) -> wrappers.Prepare:
    def prepare(instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Call | None:
        target = _argument(args, kwargs, keyword) if keyword else None
        attributes = _transport_attributes(instance)
        version = getattr(instance, "protocol_version", None)
        if isinstance(version, str):
            attributes[names.MCP_PROTOCOL_VERSION] = version
        if method == names.MCP_TOOLS_CALL:
            return Call(tool_operation(str(target), False), attributes, on_result=_tool_result)
        if attribute is not None and target is not None:
            attributes[attribute] = str(target)
        prompt = str(target) if method == names.MCP_PROMPTS_GET and target is not None else ""
        return Call(method_operation(method, prompt), attributes)

    return prepare


def _tool_result(invocation: Invocation, result: object) -> None:
    """A result with ``isError`` is the tool's failure, though the call returned."""
    if getattr(result, "is_error", False) is True or (isinstance(result, dict) and result.get("isError") is True):
        invocation.fail(names.MCP_TOOL_ERROR)


def _protocol_error(invocation: Invocation, exc: BaseException) -> None:
    """A JSON-RPC error names itself by its code (``error.type`` and ``rpc.response.status_code``)."""
    try:
        from mcp.shared.exceptions import MCPError
        from pydantic import ValidationError

        code: object = None
        if isinstance(exc, MCPError):
            code = exc.error.code
        elif isinstance(exc, ValidationError):  # what the server answers as INVALID_PARAMS
            from mcp_types import INVALID_PARAMS

            code = INVALID_PARAMS
        if isinstance(code, int):
            invocation.fail(str(code))
            invocation.add_attributes({names.RPC_RESPONSE_STATUS_CODE: str(code)})
    except Exception as error:
        failures.report("reading an MCP error", error)


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
        _protocol_error(invocation, exc)
        invocation.end(exc)
        raise
    _RUNNING.reset(running)
    invocation.end(result=result)
    return result


def _client_hook(method: str, keyword: str | None, attribute: str | None) -> wrappers.Wrapper:
    """A ClientSession coroutine method, recorded when awaited; its coroutine keeps the method's names."""
    default = method_operation(method) if method != names.MCP_TOOLS_CALL else tool_operation("tool", False)
    prepare = _client_preparer(method, keyword, attribute)

    def hook(wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        coroutine = wrapped(*args, **kwargs)
        recorded: Any = _client_call(coroutine, default, prepare, method, instance, args, kwargs)
        recorded.__name__, recorded.__qualname__ = coroutine.__name__, coroutine.__qualname__
        return recorded

    return hook


def _dispatcher_span(original: Any) -> Any:
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


def _server_preparer(ctx: Any) -> wrappers.Prepare:
    def prepare(_instance: Any, _args: tuple[Any, ...], _kwargs: dict[str, Any]) -> Call | None:
        params = getattr(ctx, "params", None) or {}
        tool = params.get("name") if hasattr(params, "get") else None
        attributes: dict[str, AttributeValue] = {}
        version = getattr(ctx, "protocol_version", None)
        if isinstance(version, str):
            attributes[names.MCP_PROTOCOL_VERSION] = version
        request_id = getattr(ctx, "request_id", None)
        if request_id is not None:
            attributes[names.JSONRPC_REQUEST_ID] = str(request_id)
        session_id = getattr(getattr(getattr(ctx, "session", None), "_connection", None), "session_id", None)
        if isinstance(session_id, str):
            attributes[names.MCP_SESSION_ID] = session_id
        http = getattr(ctx, "request", None) is not None  # the HTTP request; None on stdio
        transport = names.NETWORK_TRANSPORT_TCP if http else names.NETWORK_TRANSPORT_PIPE
        operation = tool_operation(tool if isinstance(tool, str) else "tool", True)
        return Call(operation, attributes, {names.NETWORK_TRANSPORT: transport}, _tool_result)

    return prepare


async def _served(wrapped: Callable[..., Any], ctx: Any, call_next: Callable[..., Any], args: tuple[Any, ...]) -> Any:
    """A tools/call handled under the client's context, as the SDK's middleware would, but as our operation."""
    parent = None
    try:
        from mcp.shared._otel import extract_trace_context

        parent = extract_trace_context(getattr(ctx, "meta", None))
    except Exception as exc:
        failures.report("reading an MCP request's trace context", exc)
    token = otel_context.attach(parent) if parent is not None else None
    invocation = wrappers.start(tool_operation("tool", True), _server_preparer(ctx))
    if invocation is None:
        if token is not None:
            otel_context.detach(token)
        return await wrapped(*args)
    try:
        result = await call_next(ctx)
    except BaseException as exc:
        _protocol_error(invocation, exc)
        invocation.end(exc)
        if token is not None:
            otel_context.detach(token)
        raise
    invocation.end(result=result)
    if token is not None:
        otel_context.detach(token)
    return result


def _middleware_hook(wrapped: Callable[..., Any], _instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """``OpenTelemetryMiddleware(ctx, call_next)``: tools/call is ours; every other method stays the SDK's."""
    if kwargs or len(args) != 2 or getattr(args[0], "method", None) != names.MCP_TOOLS_CALL:
        return wrapped(*args, **kwargs)
    return _served(wrapped, args[0], args[1], args)


class MCPInstrumentor(LibraryInstrumentor):
    module = "mcp"
    requirement = "mcp >= 2.3"

    def hooks(self) -> list[tuple[str, Callable[[ModuleType], None]]]:
        return [
            ("mcp.client.session", self._patch_client),
            ("mcp.client.stdio", self._patch_stdio),
            ("mcp.client.streamable_http", self._patch_streamable_http),
            ("mcp.shared.jsonrpc_dispatcher", self._patch_dispatcher),
            ("mcp.server._otel", self._patch_server),
        ]

    def _patch_client(self, module: ModuleType) -> None:
        for name, (method, keyword, attribute) in _CLIENT_METHODS.items():
            self.hook(module.ClientSession, name, _client_hook(method, keyword, attribute))

    def _patch_stdio(self, module: ModuleType) -> None:
        self.replace(module, "stdio_client", _stdio_client)

    def _patch_streamable_http(self, module: ModuleType) -> None:
        self.hook(module.StreamableHTTPTransport, "post_writer", _post_writer_hook)

    def _patch_dispatcher(self, module: ModuleType) -> None:
        self.replace(module, "otel_span", _dispatcher_span)

    def _patch_server(self, module: ModuleType) -> None:
        self.hook(module.OpenTelemetryMiddleware, "__call__", _middleware_hook)
