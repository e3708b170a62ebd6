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

One module per job: ``mcp_client`` (the requests and the dispatcher's span), ``mcp_server`` (a handled
``tools/call``), ``mcp_transports`` (what the transport tells), ``mcp_operations`` (the operations both
sides share, and errors); this one patches the SDK and times its sessions.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from time import perf_counter
from types import ModuleType
from typing import Any

from opentelemetry.instrumentation.utils import is_instrumentation_enabled

from otel_agentperf.conventions import names
from otel_agentperf.recording import state
from otel_agentperf.recording.invocations import error_type
from otel_agentperf.runtime import failures
from otel_agentperf.wrapping.library import LibraryInstrumentor

from .mcp_client import CLIENT_METHODS, client_hook, dispatcher_span
from .mcp_server import middleware_hook
from .mcp_transports import post_writer_hook, response_hook, spawn_hook, stop_hook, transport_attributes

# When each ClientSession being used was entered: its session duration runs until it is left.
_SESSIONS: weakref.WeakKeyDictionary[Any, float] = weakref.WeakKeyDictionary()


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
    _, measured = transport_attributes(instance)
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
        for name, (method, keyword, attribute) in CLIENT_METHODS.items():
            self.hook(module.ClientSession, name, client_hook(method, keyword, attribute))
        self.hook(module.ClientSession, "__aenter__", _enter_hook)
        self.hook(module.ClientSession, "__aexit__", _exit_hook)

    def _patch_dispatcher(self, module: ModuleType) -> None:
        self.replace(module, "otel_span", dispatcher_span)

    def _patch_server(self, module: ModuleType) -> None:
        self.hook(module.OpenTelemetryMiddleware, "__call__", middleware_hook)

    def _patch_http(self, module: ModuleType) -> None:
        self.hook(module.StreamableHTTPTransport, "post_writer", post_writer_hook)
        self.hook(module.StreamableHTTPTransport, "_maybe_extract_session_id_from_response", response_hook)

    def _patch_stdio(self, module: ModuleType) -> None:
        self.hook(module, "_create_platform_compatible_process", spawn_hook)
        self.hook(module, "_stop_server_process", stop_hook)
