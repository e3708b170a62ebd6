"""The Agent Framework's own spans: while one of our operations of the same kind runs, the framework's span
helpers get a non-recording stand-in for ours, so each operation is one span and what the framework nests
under its span nests under ours."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any

from otel_agentperf.conventions import names
from otel_agentperf.recording.telemetry import stand_in
from otel_agentperf.runtime import failures
from otel_agentperf.wrapping.wrappers import Wrapper

from .agent_framework_calls import Switch

# The framework's operation names on its spans, and the kind of our operation that stands for each.
_FRAMEWORK_KINDS = {
    names.OP_INVOKE_AGENT: names.KIND_AGENT,
    names.OP_CHAT: names.KIND_LLM,
    names.OP_EXECUTE_TOOL: names.KIND_TOOL,
}
_WORKFLOW_RUN_SPAN = "workflow.run"

# The framework's span helpers: (module, function) pairs; some modules import the helper by name.
SPAN_HELPERS = (
    ("agent_framework.observability", "_get_span"),
    ("agent_framework.observability", "_start_streaming_span"),
    ("agent_framework.observability", "get_function_span"),
    ("agent_framework._tools", "get_function_span"),
    ("agent_framework.observability", "start_workflow_span"),
    ("agent_framework._workflows._workflow", "start_workflow_span"),
    ("agent_framework._workflows._functional", "start_workflow_span"),
)


def _framework_kind(args: tuple[Any, ...], kwargs: dict[str, Any]) -> str | None:
    """The kind of our operation a framework span helper's call stands for, from its attributes or name.

    The framework's names are ``str`` enum members: equal to, and hashed as, their values.
    """
    first = kwargs.get("name", kwargs.get("attributes", args[0] if args else None))
    if isinstance(first, str):
        return names.KIND_WORKFLOW if first == _WORKFLOW_RUN_SPAN else None
    operation = first.get(names.GEN_AI_OPERATION_NAME) if isinstance(first, Mapping) else None
    return _FRAMEWORK_KINDS.get(operation) if isinstance(operation, str) else None


def _span_helper(returns_manager: bool) -> Wrapper:
    """Hook for one of the framework's span helpers: our stand-in while our operation of its kind runs."""

    def hook(wrapped: Any, _instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        span = None
        if Switch.on:
            try:
                kind = _framework_kind(args, kwargs)
                span = stand_in(kind) if kind is not None else None
            except Exception as exc:
                failures.report("replacing an Agent Framework span", exc)
        if span is None:
            return wrapped(*args, **kwargs)
        return contextlib.nullcontext(span) if returns_manager else span

    return hook


SPAN_MANAGER = _span_helper(returns_manager=True)
SPAN = _span_helper(returns_manager=False)
