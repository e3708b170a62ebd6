"""What the frameworks whose tools are objects with a ``name`` share: a tool call's operation and attributes."""

from __future__ import annotations

from typing import Any

from opentelemetry.util.types import AttributeValue

from otel_agentperf.conventions import names
from otel_agentperf.recording.operations import named
from otel_agentperf.wrapping.wrappers import Call


def prepare_tool_call(instance: Any, _args: tuple[Any, ...], kwargs: dict[str, Any]) -> Call:
    """A function tool's call, named by the tool (its class without a name), with the model's call id."""
    attributes: dict[str, AttributeValue] = {names.GEN_AI_TOOL_TYPE: names.TOOL_TYPE_FUNCTION}
    call_id = kwargs.get("tool_call_id")
    if isinstance(call_id, str):
        attributes[names.GEN_AI_TOOL_CALL_ID] = call_id
    return Call(named(names.KIND_TOOL, str(getattr(instance, "name", None) or type(instance).__name__)), attributes)
