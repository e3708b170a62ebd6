"""MCP (the ``mcp`` SDK, 2.x): client requests and the server's handling of a tool call, as the MCP conventions ask.

Client: a session, from entering ``ClientSession`` to leaving it, is a point of
``mcp.client.session.duration`` (``error.type`` when an exception left it). Every request is a CLIENT
span named ``{mcp.method.name} {target}`` (``tools/call add``, ``prompts/get review``, ``tools/list``)
and a point of ``mcp.client.operation.duration``. ``call_tool`` is also a tool operation
(``gen_ai.operation.name`` = ``execute_tool``, ``gen_ai.execute_tool.duration``, counted into the
enclosing agent like any tool call); ``list_tools``, ``list_resources``, ``list_resource_templates``,
``read_resource``, ``list_prompts`` and ``get_prompt`` are MCP operations (kind ``mcp``): neither tool
executions nor model calls, their one duration metric is the MCP conventions' own, and their report row
is named by ``mcp.method.name`` (and ``gen_ai.prompt.name``). Each span carries ``mcp.method.name``,
``mcp.protocol.version``, ``gen_ai.tool.name`` or ``gen_ai.prompt.name``, ``mcp.resource.uri`` (span
only), and what the session's transport tells:
streamable HTTP gives ``mcp.session.id`` (the id the server assigned), ``network.transport`` = ``tcp``,
``network.protocol.name`` = ``http`` with the version of the server's last response, ``server.address``
and ``server.port`` (from the endpoint URL); a stdio session (one ``stdio_client`` opened in this
context) is ``network.transport`` = ``pipe``. A session over another transport (in-process memory
streams) gets none of these: nothing true could be said.

The SDK has OpenTelemetry of its own: its JSON-RPC dispatcher opens a CLIENT span per request and injects
the trace context into ``params._meta``; its server middleware opens a SERVER span under the context it
extracts. While one of our client operations runs, the dispatcher's span for that very request is ours
(``otel_span`` is replaced): the SDK's attributes (``jsonrpc.request.id``, JSON-RPC error codes) land on
it and the injected ``traceparent`` names it, so the server's span is its child and there is one span per
call. The server middleware is replaced for ``tools/call`` only: ``tools/call {tool}`` (SERVER) under the
client's context, with ``mcp.session.id`` and ``network.protocol.name`` (HTTP), ``network.transport``,
and a point of ``mcp.server.operation.duration``.

Errors: a JSON-RPC error is ``error.type`` = its code (as the conventions ask), a result with ``isError``
is ``tool_error``, any other exception (a server that died mid-call) its class. The SDK's return values
and exceptions are never replaced. No tool arguments or results are recorded.
"""

from __future__ import annotations

import functools
import weakref
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from time import perf_counter
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit

from opentelemetry import context as otel_context
from opentelemetry.instrumentation.utils import is_instrumentation_enabled
from opentelemetry.trace import Span, SpanKind
from opentelemetry.util.types import AttributeValue

from otel_agentperf.conventions import names
from otel_agentperf.recording import operations, state
from otel_agentperf.recording.invocations import Invocation, error_type
from otel_agentperf.recording.operations import Operation
from otel_agentperf.runtime import failures
from otel_agentperf.wrapping import wrappers
from otel_agentperf.wrapping.library import LibraryInstrumentor
from otel_agentperf.wrapping.wrappers import Call

# The client operation now running in this task, by its MCP method: the dispatcher's span for that
# request is this operation's span.
_RUNNING: ContextVar[tuple[str, Span] | None] = ContextVar("otel_agentperf_mcp_request", default=None)

# Streamable HTTP transports (weakly) by the id of the write stream their session sends on (the stream keeps
# no weak references); an entry goes with its transport. And the HTTP version of each one's last response.
_HTTP: dict[int, weakref.ref[Any]] = {}
_HTTP_VERSIONS: weakref.WeakKeyDictionary[Any, str] = weakref.WeakKeyDictionary()
# How many stdio transports are open in this context: a session asking while one is, talks over its pipe.
_STDIO: ContextVar[int] = ContextVar("otel_agentperf_mcp_stdio", default=0)
_DEFAULT_PORTS = {"http": 80, "https": 443}
# When each ClientSession being used was entered: its session duration runs until it is left.
_SESSIONS: weakref.WeakKeyDictionary[Any, float] = weakref.WeakKeyDictionary()

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
    """``tools/call {tool}``, a CLIENT or SERVER span; built once per tool.

    ``gen_ai.execute_tool.duration`` takes the GenAI attributes, ``mcp.*.operation.duration`` the MCP ones.
    Spans keep the name; metric values are bounded per meter (``bounded.Bounds``), not here.
    """
    tool_attributes = {names.GEN_AI_OPERATION_NAME: names.OP_EXECUTE_TOOL, names.GEN_AI_TOOL_NAME: tool}
    protocol_attributes = {**tool_attributes, names.MCP_METHOD_NAME: names.MCP_TOOLS_CALL}
    return Operation(
        names.KIND_TOOL,
        tool,
        f"{names.MCP_TOOLS_CALL} {tool}",
        tool_attributes,
        {names.MCP_METHOD_NAME: names.MCP_TOOLS_CALL},
        span_kind=SpanKind.SERVER if server else SpanKind.CLIENT,
        protocol=names.MCP_SERVER if server else names.MCP_CLIENT,
        protocol_attributes=protocol_attributes,
    )


@functools.lru_cache(maxsize=1024)
def method_operation(method: str, prompt: str = "") -> Operation:
    """A listing, read or prompt request: an MCP operation, ``{mcp.method.name} {target}`` as the conventions
    name it (the prompt's name; a resource's URI is not low-cardinality, so it stays off the name).

    Its duration is ``mcp.client.operation.duration`` itself (the kind's histogram), not a second metric.
    """
    metric_attributes = {names.MCP_METHOD_NAME: method}
    if prompt:
        metric_attributes[names.GEN_AI_PROMPT_NAME] = prompt
    return Operation(
        names.KIND_MCP,
        method,
        operations.span_name(method, prompt, fallback=method),
        metric_attributes,
        span_kind=SpanKind.CLIENT,
    )


@functools.lru_cache(maxsize=64)
def _server(endpoint: str) -> dict[str, AttributeValue]:
    """``server.address`` and ``server.port`` of an endpoint URL, parsed once per endpoint."""
    url = urlsplit(endpoint)
    if not url.hostname:
        return {}
    port = url.port or _DEFAULT_PORTS.get(url.scheme)
    return {names.SERVER_ADDRESS: url.hostname, **({names.SERVER_PORT: port} if port is not None else {})}


def _transport_attributes(session: Any) -> tuple[dict[str, AttributeValue], dict[str, AttributeValue]]:
    """What a ClientSession's transport tells: (span-only attributes, attributes of spans and the MCP metric)."""
    stream = getattr(getattr(session, "_dispatcher", None), "_write_stream", None)
    noted = _HTTP.get(id(stream)) if stream is not None else None
    transport = noted() if noted is not None else None
    if transport is None:
        return {}, ({names.NETWORK_TRANSPORT: names.NETWORK_TRANSPORT_PIPE} if _STDIO.get() > 0 else {})
    measured: dict[str, AttributeValue] = {
        names.NETWORK_TRANSPORT: names.NETWORK_TRANSPORT_TCP,
        names.NETWORK_PROTOCOL_NAME: names.NETWORK_PROTOCOL_HTTP,
    }
    version = _HTTP_VERSIONS.get(transport)
    if version:
        measured[names.NETWORK_PROTOCOL_VERSION] = version
    measured.update(_server(str(getattr(transport, "url", ""))))
    session_id = getattr(transport, "session_id", None)
    return ({names.MCP_SESSION_ID: session_id} if isinstance(session_id, str) else {}), measured


def _argument(args: tuple[Any, ...], kwargs: dict[str, Any], keyword: str) -> Any:
    return kwargs[keyword] if keyword in kwargs else (args[0] if args else None)


def _client_preparer(method: str, keyword: str | None, attribute: str | None) -> wrappers.Prepare:
    def prepare(instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Call | None:
        target = _argument(args, kwargs, keyword) if keyword else None
        attributes, measured = _transport_attributes(instance)
        version = getattr(instance, "protocol_version", None)
        if isinstance(version, str):
            measured[names.MCP_PROTOCOL_VERSION] = version
        attributes.update(measured)
        if method == names.MCP_TOOLS_CALL:
            operation = tool_operation(str(target), False)
            return Call(operation, attributes, on_result=_tool_result, protocol_attributes=measured)
        if attribute is not None and target is not None:
            attributes[attribute] = str(target)
        prompt = str(target) if method == names.MCP_PROMPTS_GET and target is not None else ""
        return Call(method_operation(method, prompt), attributes, metric_attributes=measured)

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
            status = {names.RPC_RESPONSE_STATUS_CODE: str(code)}
            if invocation.kind == names.KIND_MCP:  # its own duration is the MCP metric
                invocation.add_attributes(None, status)
            else:
                invocation.add_attributes(status)
                invocation.add_protocol_attributes(status)
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
        measured: dict[str, AttributeValue] = {}
        if isinstance(version, str):
            measured[names.MCP_PROTOCOL_VERSION] = version
        if getattr(ctx, "request", None) is not None:  # the HTTP request; None on stdio
            measured[names.NETWORK_TRANSPORT] = names.NETWORK_TRANSPORT_TCP
            measured[names.NETWORK_PROTOCOL_NAME] = names.NETWORK_PROTOCOL_HTTP
            http_version = (getattr(ctx.request, "scope", None) or {}).get("http_version")
            if isinstance(http_version, str):
                measured[names.NETWORK_PROTOCOL_VERSION] = http_version
        else:
            measured[names.NETWORK_TRANSPORT] = names.NETWORK_TRANSPORT_PIPE
        attributes.update(measured)
        operation = tool_operation(tool if isinstance(tool, str) else "tool", True)
        return Call(operation, attributes, on_result=_tool_result, protocol_attributes=measured)

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


def _forget(key: int, noted: weakref.ref[Any]) -> None:
    """A transport went: its entry goes, unless a newer stream took the same id (and the entry) since."""
    if _HTTP.get(key) is noted:
        del _HTTP[key]


def _post_writer_hook(wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """``StreamableHTTPTransport.post_writer(client, reader, read_writer, write_stream, ...)``: the session's
    write stream is this transport's, so its requests are known to go over HTTP to this endpoint."""
    try:
        stream = kwargs.get("write_stream", args[3] if len(args) > 3 else None)
        if stream is not None:
            key, noted = id(stream), weakref.ref(instance)
            _HTTP[key] = noted
            weakref.finalize(instance, _forget, key, noted)
    except Exception as exc:
        failures.report("noting an MCP HTTP transport", exc)
    return wrapped(*args, **kwargs)


def _response_hook(wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """Each response the transport reads its session id from: the HTTP version it came over."""
    try:
        version = str(getattr(args[0] if args else kwargs.get("response"), "http_version", ""))
        if version.startswith("HTTP/"):
            _HTTP_VERSIONS[instance] = version.removeprefix("HTTP/")
    except Exception as exc:
        failures.report("reading an MCP HTTP response's version", exc)
    return wrapped(*args, **kwargs)


async def _spawned(wrapped: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    process = await wrapped(*args, **kwargs)
    _STDIO.set(_STDIO.get() + 1)  # awaited by stdio_client in its caller's context: the caller's sessions see it
    return process


async def _stopped(wrapped: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    _STDIO.set(max(_STDIO.get() - 1, 0))
    return await wrapped(*args, **kwargs)


def _spawn_hook(wrapped: Callable[..., Any], _instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """``_create_platform_compatible_process``: a stdio transport opens in this context."""
    return _spawned(wrapped, args, kwargs)


def _stop_hook(wrapped: Callable[..., Any], _instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """``_stop_server_process``: the stdio transport of this context closes."""
    return _stopped(wrapped, args, kwargs)


def _enter_hook(wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """``ClientSession.__aenter__``: the session begins."""
    try:
        _SESSIONS[instance] = perf_counter()
    except Exception as exc:
        failures.report("noting an MCP session start", exc)
    return wrapped(*args, **kwargs)


def _session_ended(instance: Any, error: BaseException | None) -> None:
    """``mcp.client.session.duration``, with what the session's transport tells and ``error.type`` if it failed."""
    started = _SESSIONS.pop(instance, None)
    if started is None or not is_instrumentation_enabled():
        return
    seconds = perf_counter() - started
    _, measured = _transport_attributes(instance)
    version = getattr(instance, "protocol_version", None)
    if isinstance(version, str):
        measured[names.MCP_PROTOCOL_VERSION] = version
    telemetry = state.telemetry()
    if error is not None:
        measured[names.ERROR_TYPE] = telemetry.error_types(error_type(error))
    telemetry.recorder.mcp_client_session(seconds, telemetry.bounds.metric_attributes(measured))


async def _leave(wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    error = args[1] if len(args) > 1 and isinstance(args[1], BaseException) else None
    try:
        _session_ended(instance, error)  # before the transport under it closes, while it is still known
    except Exception as exc:
        failures.report("recording an MCP session", exc)
    return await wrapped(*args, **kwargs)


def _exit_hook(wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """``ClientSession.__aexit__(exc_type, exc, tb)``: the session ends, with an error if one left it."""
    return _leave(wrapped, instance, args, kwargs)


class MCPInstrumentor(LibraryInstrumentor):
    module = "mcp"
    requirement = "mcp >= 2.3"

    def hooks(self) -> list[tuple[str, Callable[[ModuleType], None]]]:
        return [
            ("mcp.client.session", self._patch_client),
            ("mcp.client.streamable_http", self._patch_http),
            ("mcp.client.stdio", self._patch_stdio),
            ("mcp.shared.jsonrpc_dispatcher", self._patch_dispatcher),
            ("mcp.server._otel", self._patch_server),
        ]

    def _patch_client(self, module: ModuleType) -> None:
        for name, (method, keyword, attribute) in _CLIENT_METHODS.items():
            self.hook(module.ClientSession, name, _client_hook(method, keyword, attribute))
        self.hook(module.ClientSession, "__aenter__", _enter_hook)
        self.hook(module.ClientSession, "__aexit__", _exit_hook)

    def _patch_dispatcher(self, module: ModuleType) -> None:
        self.replace(module, "otel_span", _dispatcher_span)

    def _patch_server(self, module: ModuleType) -> None:
        self.hook(module.OpenTelemetryMiddleware, "__call__", _middleware_hook)

    def _patch_http(self, module: ModuleType) -> None:
        self.hook(module.StreamableHTTPTransport, "post_writer", _post_writer_hook)
        self.hook(module.StreamableHTTPTransport, "_maybe_extract_session_id_from_response", _response_hook)

    def _patch_stdio(self, module: ModuleType) -> None:
        self.hook(module, "_create_platform_compatible_process", _spawn_hook)
        self.hook(module, "_stop_server_process", _stop_hook)
