"""An MCP server's handling of ``tools/call``: the SDK's middleware replaced for that method only, our
SERVER operation under the client's extracted context."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry.util.types import AttributeValue

from otel_agentperf.conventions import names
from otel_agentperf.runtime import failures
from otel_agentperf.wrapping import wrappers
from otel_agentperf.wrapping.wrappers import Call

from .mcp_operations import protocol_error, tool_operation, tool_result


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
        return Call(operation, attributes, on_result=tool_result, protocol_attributes=measured)

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
        protocol_error(invocation, exc)
        invocation.end(exc)
        if token is not None:
            otel_context.detach(token)
        raise
    invocation.end(result=result)
    if token is not None:
        otel_context.detach(token)
    return result


def middleware_hook(wrapped: Callable[..., Any], _instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """``OpenTelemetryMiddleware(ctx, call_next)``: tools/call is ours; every other method stays the SDK's."""
    if kwargs or len(args) != 2 or getattr(args[0], "method", None) != names.MCP_TOOLS_CALL:
        return wrapped(*args, **kwargs)
    return _served(wrapped, args[0], args[1], args)
