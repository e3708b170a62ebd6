"""Microsoft Agent Framework (``agent-framework-core``): agent runs, chat calls, function tools, workflows.

Agent runs are ``invoke_agent {name}``: ``run`` on ``BaseAgent`` and every subclass that defines it (``Agent``,
``RawAgent``, ``WorkflowAgent``, the app's own). ``Agent.run`` reaches ``RawAgent.run`` through the
framework's middleware and telemetry layers; a run of the agent whose run is already the operation in
progress is that same run, not another. Chat-client calls are LLM operations, one per model call:
``get_response`` of the chat middleware layer, the chat telemetry layer and ``BaseChatClient`` (the
function-invocation layer above them loops over model calls and tools, and is left alone); the outermost
of them is the operation and the OpenAI SDK's ``create`` under it folds into it, so a call through the
framework's OpenAI clients is one LLM operation with the SDK's usage and response attributes. Function
tools are ``execute_tool {name}`` (``FunctionTool.invoke``, with the tool call id); workflow runs are
``invoke_workflow {name}`` (``Workflow._run_workflow_with_tracing`` and the functional workflows'
``_run_core``, the one path every run, resumption and checkpoint restore takes).

``run`` and ``get_response`` return an awaitable, or with ``stream=True`` a ``ResponseStream`` consumed
later, maybe in another task: the operation then starts with the call, its context is current while the
call sets the stream up and around each pull of the stream (the framework's own pull hooks), each update
is a chunk, and it ends in the stream's cleanup (an error the stream ended with is the operation's), or
when a stream never read is collected.

The framework has OpenTelemetry of its own, on unless the app turns it off: ``invoke_agent``, ``chat``,
``execute_tool`` and ``workflow.run`` spans from a few helpers in ``agent_framework.observability``. While
one of our operations of the same kind is the one running, those helpers get a non-recording span in our
span's place, so each operation is one span (ours, whichever was enabled first) and what the framework
nests under its span (executor and edge spans, message sends, MCP calls) nests under ours. The framework's
own metrics are its own (its ``agent_framework`` meter) and stay as the app set them up.

This module reads what each call tells (agent, provider, model, usage, updates) and patches the
framework; following a call is ``agent_framework_calls``, standing in for the framework's spans
``agent_framework_spans``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import ModuleType
from typing import Any

from opentelemetry.util.types import AttributeValue

from otel_agentperf.conventions import names
from otel_agentperf.recording.invocations import LLMInvocation
from otel_agentperf.recording.operations import named
from otel_agentperf.runtime import failures
from otel_agentperf.wrapping.library import LibraryInstrumentor
from otel_agentperf.wrapping.wrappers import Call

from ..llm import extractors
from .agent_framework_calls import Switch, call_hook, in_progress
from .agent_framework_spans import SPAN, SPAN_HELPERS, SPAN_MANAGER
from .function_tools import prepare_tool_call

_UNKNOWN = "unknown"  # what the framework reports for a provider or model it does not know


def _provider(client: Any) -> str:
    """The provider a chat client names to the framework's telemetry ("" when unknown).

    The framework already uses the conventions' values (``openai``, ``azure.ai.openai``...).
    """
    provider = getattr(client, "otel_provider_name", None) or getattr(type(client), "OTEL_PROVIDER_NAME", None)
    return str(provider) if provider and provider != _UNKNOWN else ""


def _prepare_agent(instance: Any, _args: tuple[Any, ...], _kwargs: dict[str, Any]) -> Call | None:
    if in_progress(instance):
        return None
    name = getattr(instance, "name", None)
    attributes: dict[str, AttributeValue] = {}
    agent_id = getattr(instance, "id", None)
    if isinstance(agent_id, str):
        attributes[names.GEN_AI_AGENT_ID] = agent_id
    provider = _provider(getattr(instance, "client", None))
    if provider:
        attributes[names.GEN_AI_PROVIDER_NAME] = provider
    return Call(named(names.KIND_AGENT, str(name) if name else type(instance).__name__), attributes)


def _usage(invocation: LLMInvocation, usage: Any) -> None:
    """Token usage from the framework's ``UsageDetails`` (its own keys, mapped from every provider's)."""
    if isinstance(usage, Mapping) and usage.get("input_token_count") is not None:
        invocation.set_usage(
            usage.get("input_token_count"),
            usage.get("output_token_count"),
            usage.get("cache_read_input_token_count"),
            usage.get("cache_creation_input_token_count"),
        )


def _chat_result(invocation: LLMInvocation, response: Any) -> None:
    """Usage, response id, model and finish reason from the framework's ``ChatResponse``."""
    _usage(invocation, getattr(response, "usage_details", None))
    reason = getattr(response, "finish_reason", None)
    extractors.set_response(
        invocation, getattr(response, "response_id", None), getattr(response, "model", None), [str(reason or "")]
    )


class _Updates:
    """Reads a streamed chat call's updates: each with content is a chunk; usage, model and reason as they come."""

    __slots__ = ("invocation", "reasons")

    def __init__(self, invocation: LLMInvocation) -> None:
        self.invocation = invocation
        self.reasons: list[str] = []

    def __call__(self, update: Any) -> None:
        try:
            self._read(update)
        except Exception as exc:
            failures.report("reading an Agent Framework stream update", exc)

    def _read(self, update: Any) -> None:
        invocation = self.invocation
        contents = getattr(update, "contents", None) or ()
        if any(getattr(content, "type", None) != "usage" for content in contents):
            invocation.chunk()
        for content in contents:
            if getattr(content, "type", None) == "usage":
                _usage(invocation, getattr(content, "usage_details", None))
        reason = getattr(update, "finish_reason", None)
        if reason:
            self.reasons.append(str(reason))
        model = getattr(update, "model", None)
        if model or reason:
            extractors.set_response(invocation, getattr(update, "response_id", None), model, self.reasons)


def _prepare_chat(instance: Any, _args: tuple[Any, ...], kwargs: dict[str, Any]) -> Call | None:
    if in_progress(instance):
        return None
    options = kwargs.get("options") or {}
    client_kwargs = kwargs.get("client_kwargs") or {}
    model = client_kwargs.get("model") or options.get("model") or getattr(instance, "model", None)
    model_name = str(model) if model and model != _UNKNOWN else ""
    function = f"{type(instance).__name__}.get_response"
    operation = extractors.operation(function, _provider(instance), names.OP_CHAT, model_name)
    attributes = extractors.request_attributes(options)
    server = None
    service_url = getattr(instance, "service_url", None)
    url = service_url() if callable(service_url) else None
    if isinstance(url, str) and "://" in url:
        server = dict(extractors.url_attributes(url))  # on the metrics too, as the conventions have it
    if kwargs.get("stream"):
        attributes[names.GEN_AI_REQUEST_STREAM] = True
        return Call(operation, attributes, server)
    return Call(operation, attributes, server, on_result=_chat_result)


def _prepare_workflow(instance: Any, _args: tuple[Any, ...], _kwargs: dict[str, Any]) -> Call:
    return Call(named(names.KIND_WORKFLOW, str(getattr(instance, "name", None) or type(instance).__name__)))


_DEFAULT_WORKFLOW = named(names.KIND_WORKFLOW, "Workflow")
_AGENT_RUN = call_hook(named(names.KIND_AGENT, "Agent"), _prepare_agent)
_CHAT_CALL = call_hook(extractors.operation("ChatClient.get_response", "", names.OP_CHAT, ""), _prepare_chat, _Updates)


class AgentFrameworkInstrumentor(LibraryInstrumentor):
    module = "agent_framework"
    requirement = "agent-framework-core >= 1.22"

    def hooks(self) -> list[tuple[str, Callable[[ModuleType], None]]]:
        helpers = [(module, self._helper_patch(function)) for module, function in SPAN_HELPERS]
        return [
            ("agent_framework._agents", self._patch_agents),
            ("agent_framework._clients", self._patch_clients),
            ("agent_framework._middleware", self._patch_middleware_layer),
            ("agent_framework.observability", self._patch_telemetry_layer),
            ("agent_framework._tools", self._patch_tools),
            ("agent_framework._workflows._workflow", self._patch_workflows),
            ("agent_framework._workflows._functional", self._patch_functional_workflows),
            *helpers,
        ]

    def _instrument(self, **kwargs: Any) -> None:
        Switch.on = True
        super()._instrument(**kwargs)

    def _uninstrument(self, **kwargs: Any) -> None:
        Switch.on = False
        super()._uninstrument(**kwargs)

    def _helper_patch(self, function: str) -> Callable[[ModuleType], None]:
        hook = SPAN_MANAGER if function in ("_get_span", "get_function_span") else SPAN

        def patch(module: ModuleType) -> None:
            # A module importing the helper after it was hooked imports the hook itself.
            if getattr(vars(module).get(function), "_self_wrapper", None) is not hook:
                self.hook(module, function, hook)

        return patch

    def _patch_agents(self, module: ModuleType) -> None:
        self.hook_hierarchy(module.BaseAgent, "run", _AGENT_RUN)

    def _patch_clients(self, module: ModuleType) -> None:
        self.hook(module.BaseChatClient, "get_response", _CHAT_CALL)

    def _patch_middleware_layer(self, module: ModuleType) -> None:
        self.hook(module.ChatMiddlewareLayer, "get_response", _CHAT_CALL)

    def _patch_telemetry_layer(self, module: ModuleType) -> None:
        self.hook(module.ChatTelemetryLayer, "get_response", _CHAT_CALL)

    def _patch_tools(self, module: ModuleType) -> None:
        self.wrap(module.FunctionTool, "invoke", named(names.KIND_TOOL, "FunctionTool"), prepare_tool_call)

    def _patch_workflows(self, module: ModuleType) -> None:
        self.wrap(module.Workflow, "_run_workflow_with_tracing", _DEFAULT_WORKFLOW, _prepare_workflow)

    def _patch_functional_workflows(self, module: ModuleType) -> None:
        self.wrap(module.FunctionalWorkflow, "_run_core", _DEFAULT_WORKFLOW, _prepare_workflow)
