"""The MCP operations client and server share: ``tools/call {tool}`` and the other requests, built once
each, and how a call's result or a JSON-RPC error names its failure."""

from __future__ import annotations

import functools

from opentelemetry.trace import SpanKind

from otel_agentperf.conventions import names
from otel_agentperf.recording import operations
from otel_agentperf.recording.invocations import Invocation
from otel_agentperf.recording.operations import Operation
from otel_agentperf.runtime import failures


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


def tool_result(invocation: Invocation, result: object) -> None:
    """A result with ``isError`` is the tool's failure, though the call returned."""
    if getattr(result, "is_error", False) is True or (isinstance(result, dict) and result.get("isError") is True):
        invocation.fail(names.MCP_TOOL_ERROR)


def protocol_error(invocation: Invocation, exc: BaseException) -> None:
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
