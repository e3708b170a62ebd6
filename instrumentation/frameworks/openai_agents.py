"""OpenAI Agents SDK (``openai-agents``): runs, agents, tools, handoffs and guardrails, from its own tracing.

A tracing processor (the SDK's public interface) turns the SDK's trace into ``invoke_workflow``, agent
spans into ``invoke_agent``, function spans into ``execute_tool``, handoffs and guardrails into segments
(``handoff``, ``guardrail {name}``), and model calls into LLM operations when the OpenAI SDK
is not instrumented already (it usually is: then the SDK call is the LLM operation). Each operation's
parent is the one the SDK reports, so the tree is right whichever task or thread reports it.

For calls the SDK makes inside a span (the OpenAI client, the user's tool code) to nest, the span's
OpenTelemetry context is made current exactly where the SDK makes its own span current: in
``start(mark_as_current=True)``, undone in ``finish(reset_current=True)``, in the same task. Nothing is
kept for a span after it finishes. With the SDK's tracing disabled, only the OpenAI calls are recorded.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import ModuleType
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry.context import Context
from opentelemetry.util.types import AttributeValue

from otel_agentperf.conventions import names
from otel_agentperf.recording import state
from otel_agentperf.recording.invocations import Invocation, LLMInvocation
from otel_agentperf.recording.operations import Operation, named
from otel_agentperf.runtime import failures, forksafe
from otel_agentperf.wrapping.library import LibraryInstrumentor

from ..llm import extractors


class AgentsSpanError(Exception):
    """An error the Agents SDK reported on one of its spans (a failed tool, a tripped guardrail)."""


class _Entry:
    """One SDK trace or span in flight: the context its children start in, and our operation if any."""

    __slots__ = ("context", "invocation", "token")

    def __init__(self, context: Context, invocation: Invocation | None) -> None:
        self.context = context
        self.invocation = invocation
        self.token: object = None


class AgentPerfProcessor:
    """The Agents SDK ``TracingProcessor``; inert while uninstrumented (the SDK cannot remove processors)."""

    def __init__(self) -> None:
        self.active = False
        self.registered = False
        self.entries: dict[str, _Entry] = {}
        self.current_span: Callable[[], Any] | None = None  # the SDK's ``get_current_span``, once patched
        self._lock = forksafe.lock()

    def _start(
        self,
        key: str,
        operation: Operation | None,
        parent: Context,
        attributes: Mapping[str, AttributeValue] | None = None,
    ) -> None:
        telemetry = state.telemetry()
        invocation = telemetry.start(operation, attributes, attach=False, parent=parent) if operation else None
        with self._lock:
            self.entries[key] = _Entry(invocation.context if invocation else parent, invocation)

    def _parent(self, key: str | None) -> Context:
        entry = self.entries.get(key) if key else None
        return entry.context if entry is not None else otel_context.get_current()

    def on_trace_start(self, trace: Any) -> None:
        if self.active:
            self._guard("trace start", self._trace_start, trace)

    def _trace_start(self, trace: Any) -> None:
        name = str(getattr(trace, "name", "") or "Agent workflow")
        self._start(trace.trace_id, named(names.KIND_WORKFLOW, name), otel_context.get_current())

    def on_span_start(self, span: Any) -> None:
        if self.active:
            self._guard("span start", self._span_start, span)

    def _span_start(self, span: Any) -> None:
        parent = self._parent(span.parent_id or span.trace_id)
        data = span.span_data
        # The SDK runs only function tools in a function span: the conventions' ``function`` type.
        tool = {names.GEN_AI_TOOL_TYPE: names.TOOL_TYPE_FUNCTION} if type(data).__name__ == "FunctionSpanData" else None
        self._start(span.span_id, _span_operation(data), parent, tool)

    def on_span_end(self, span: Any) -> None:
        self._guard("span end", self._end, span.span_id, span)

    def on_trace_end(self, trace: Any) -> None:
        self._guard("trace end", self._end, trace.trace_id, None)

    def _end(self, key: str, span: Any) -> None:
        entry = self.entries.get(key)
        if entry is None:
            return
        if entry.invocation is not None:
            if span is not None:
                _read_span(entry.invocation, span.span_data)
            error = getattr(span, "error", None) if span is not None else None
            entry.invocation.finish(AgentsSpanError(str(error.get("message", ""))) if error else None)
        if entry.token is None:
            self._forget(key)

    def _forget(self, key: str) -> None:
        with self._lock:
            self.entries.pop(key, None)

    def made_current(self, key: str) -> None:
        """The SDK made this trace or span current in this task: so is its context (children nest)."""
        entry = self.entries.get(key)
        if entry is not None and entry.invocation is not None:
            entry.token = otel_context.attach(entry.context)

    def reset(self, key: str) -> None:
        """The SDK made the trace or span stop being current (same task as :meth:`made_current`)."""
        entry = self.entries.get(key)
        if entry is None:
            return
        if entry.token is not None and otel_context.get_current() is entry.context:
            otel_context.detach(entry.token)  # type: ignore[arg-type]
        self._forget(key)

    def tool_call(self, call_id: object) -> None:
        """The SDK made the context of a tool call: its id goes on the function span the SDK has current."""
        span = self.current_span() if self.current_span is not None else None
        if span is None or not isinstance(call_id, str) or type(span.span_data).__name__ != "FunctionSpanData":
            return
        entry = self.entries.get(span.span_id)
        if entry is not None and entry.invocation is not None:
            entry.invocation.add_attributes({names.GEN_AI_TOOL_CALL_ID: call_id})

    def shutdown(self) -> None:
        return None

    def force_flush(self) -> None:
        return None

    def _guard(self, what: str, action: Any, *args: Any) -> None:
        try:
            action(*args)
        except Exception as exc:
            failures.report(f"Agents SDK {what}", exc)


def _span_operation(data: Any) -> Operation | None:
    kind = type(data).__name__
    if kind == "AgentSpanData":
        return named(names.KIND_AGENT, str(data.name))
    if kind == "FunctionSpanData":
        return named(names.KIND_TOOL, str(data.name))
    if kind == "HandoffSpanData":
        return named(names.KIND_SEGMENT, "handoff")  # the target is known only at the end
    if kind == "GuardrailSpanData":
        return named(names.KIND_SEGMENT, f"guardrail {data.name}")
    if kind in ("GenerationSpanData", "ResponseSpanData") and not extractors.sdk_recording(names.PROVIDER_OPENAI):
        model = getattr(data, "model", None)
        return extractors.operation("agents." + kind, names.PROVIDER_OPENAI, names.OP_CHAT, str(model) if model else "")
    return None


def _read_span(invocation: Invocation, data: Any) -> None:
    """What a span learnt by its end: usage and model for model calls, a tripped guardrail."""
    kind = type(data).__name__
    if kind == "GuardrailSpanData":
        invocation.add_attributes({names.GUARDRAIL_TRIGGERED: bool(data.triggered)})
    elif kind == "HandoffSpanData":
        agents = ((names.HANDOFF_FROM, data.from_agent), (names.HANDOFF_TO, data.to_agent))
        invocation.add_attributes({key: str(value) for key, value in agents if value})
    elif not isinstance(invocation, LLMInvocation):  # the rest are model calls
        return
    elif kind == "ResponseSpanData" and data.response is not None:
        response = data.response
        usage = getattr(response, "usage", None)
        if usage is not None:
            details = getattr(usage, "input_tokens_details", None)
            invocation.set_usage(usage.input_tokens, usage.output_tokens, getattr(details, "cached_tokens", None))
        extractors.set_response(invocation, response.id, response.model, ())
    elif kind == "GenerationSpanData":
        usage = data.usage or {}
        if usage.get("input_tokens"):  # a stream without usage reports zeros: no usage, not zero tokens
            invocation.set_usage(usage["input_tokens"], usage.get("output_tokens"))
        extractors.set_response(invocation, None, data.model, ())


processor = AgentPerfProcessor()


def _key(instance: Any) -> str:
    return str(getattr(instance, "span_id", None) or instance.trace_id)


def _started(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    result = wrapped(*args, **kwargs)
    if processor.active and (args[0] if args else kwargs.get("mark_as_current", False)):
        processor._guard("making a span current", processor.made_current, _key(instance))
    return result


def _tool_context(wrapped: Any, _owner: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """``ToolContext.from_agent_context``: the one place the SDK names the call id of the tool it runs."""
    context = wrapped(*args, **kwargs)
    if processor.active:
        processor._guard("reading a tool call id", processor.tool_call, getattr(context, "tool_call_id", None))
    return context


def _finished(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    result = wrapped(*args, **kwargs)
    if args[0] if args else kwargs.get("reset_current", False):
        processor._guard("resetting the current span", processor.reset, _key(instance))
    return result


class OpenAIAgentsInstrumentor(LibraryInstrumentor):
    module = "agents.tracing"
    requirement = "openai-agents >= 0.2"

    def patch(self, module: ModuleType) -> None:
        from agents import tool_context
        from agents.tracing import spans, traces

        for owner in (spans.SpanImpl, traces.TraceImpl):
            self.hook(owner, "start", _started)
            self.hook(owner, "finish", _finished)
        self.hook(tool_context.ToolContext, "from_agent_context", _tool_context)
        processor.current_span = module.get_current_span
        if not processor.registered:
            module.add_trace_processor(processor)
            processor.registered = True
        processor.active = True

    def _uninstrument(self, **kwargs: Any) -> None:
        processor.active = False
        super()._uninstrument(**kwargs)
