"""LangChain (langchain-core): tools as ``execute_tool``, chat models as LLM operations.

Tools: ``BaseTool.run``/``arun``, which every way of calling a tool goes through (``invoke``,
LangGraph's ``ToolNode``, agents); the span carries the tool call id, the metrics the calling agent.
Chat models: ``_generate_with_cache``/``_agenerate_with_cache`` (``invoke``, ``batch``, ``generate``)
and ``stream``/``astream``. A model is recorded here only when the SDK it calls is not instrumented
already (by otel-agentperf's OpenAI/Anthropic instrumentors or another GenAI instrumentation): then the
SDK call is the one LLM operation, with the provider's own usage, and LangChain adds nothing. Otherwise
an LLM operation made inside this one (``stream`` falling back to ``invoke``; an instrumented SDK under
a provider this module does not know) folds into it: one operation per model call.
No callback handler is registered: nothing is kept per run.
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

from opentelemetry.util.types import AttributeValue

from otel_agentperf.conventions import names
from otel_agentperf.recording.invocations import LLMInvocation
from otel_agentperf.recording.operations import named
from otel_agentperf.wrapping.library import LibraryInstrumentor
from otel_agentperf.wrapping.wrappers import Call, Prepare

from ..llm import extractors
from .function_tools import prepare_tool_call

_PARAMETERS = {
    "ls_temperature": names.GEN_AI_REQUEST_TEMPERATURE,
    "ls_max_tokens": names.GEN_AI_REQUEST_MAX_TOKENS,
}


def _read_message(invocation: LLMInvocation, message: Any, reasons: list[str]) -> None:
    """Usage, model and finish reason from an ``AIMessage`` (LangChain's provider-neutral fields)."""
    usage = getattr(message, "usage_metadata", None)
    if usage:
        details = usage.get("input_token_details") or {}
        invocation.set_usage(
            usage.get("input_tokens"),
            usage.get("output_tokens"),
            details.get("cache_read"),
            details.get("cache_creation"),
        )
    metadata = getattr(message, "response_metadata", None) or {}
    reason = metadata.get("finish_reason") or metadata.get("stop_reason")
    if reason:
        reasons.append(str(reason))
    extractors.set_response(invocation, getattr(message, "id", None), metadata.get("model_name"), reasons)


def _generation_result(invocation: LLMInvocation, result: Any) -> None:
    generations = getattr(result, "generations", None)
    if generations:
        _read_message(invocation, getattr(generations[0], "message", None), [])


class _StreamReader:
    """Sums usage over a stream's chunks (a provider may report it in pieces) and times them."""

    __slots__ = ("input", "output", "reasons")

    def __init__(self) -> None:
        self.input = 0
        self.output = 0
        self.reasons: list[str] = []

    def __call__(self, invocation: LLMInvocation, chunk: Any) -> None:
        if getattr(chunk, "content", None) or getattr(chunk, "tool_call_chunks", None):
            invocation.chunk()
        usage = getattr(chunk, "usage_metadata", None)
        if usage:
            self.input += usage.get("input_tokens") or 0
            self.output += usage.get("output_tokens") or 0
            invocation.set_usage(self.input, self.output)
        metadata = getattr(chunk, "response_metadata", None) or {}
        if metadata.get("finish_reason") or metadata.get("model_name"):
            reason = metadata.get("finish_reason")
            if reason:
                self.reasons.append(str(reason))
            extractors.set_response(invocation, None, metadata.get("model_name"), self.reasons)


def _prepare_model(method: str, streaming: bool) -> Prepare:
    def prepare(instance: Any, _args: tuple[Any, ...], kwargs: dict[str, Any]) -> Call | None:
        params = instance._get_ls_params()
        provider = str(params.get("ls_provider") or "")
        if extractors.sdk_recording(provider):
            return None
        model = params.get("ls_model_name")
        function = f"{type(instance).__name__}.{method}"
        operation = extractors.operation(
            function, extractors.provider(provider) if provider else "", names.OP_CHAT, str(model) if model else ""
        )
        attributes: dict[str, AttributeValue] = {
            key: extractors.numeric(key, value)
            for param, key in _PARAMETERS.items()
            if isinstance(value := params.get(param), (int, float)) and not isinstance(value, bool)
        }
        stop = params.get("ls_stop")
        if isinstance(stop, list) and stop:
            attributes[names.GEN_AI_REQUEST_STOP_SEQUENCES] = [str(item) for item in stop]
        if streaming:
            attributes[names.GEN_AI_REQUEST_STREAM] = True
            return Call(operation, attributes, on_item=_StreamReader())
        return Call(operation, attributes, on_result=_generation_result)

    return prepare


class LangChainInstrumentor(LibraryInstrumentor):
    module = "langchain_core"
    requirement = "langchain-core >= 0.3"

    def hooks(self) -> list[tuple[str, Callable[[ModuleType], None]]]:
        return [
            ("langchain_core.tools.base", self._patch_tools),
            ("langchain_core.language_models.chat_models", self._patch_models),
        ]

    def _patch_tools(self, module: ModuleType) -> None:
        spec = lambda cls, _name: (named(names.KIND_TOOL, cls.__name__), prepare_tool_call)  # noqa: E731
        self.wrap_hierarchy(module.BaseTool, {"run": spec, "arun": spec})

    def _patch_models(self, module: ModuleType) -> None:
        def spec(method: str, streaming: bool) -> Any:
            prepare = _prepare_model(method, streaming)
            return lambda cls, _name: (extractors.operation(f"{cls.__name__}.{method}", "", names.OP_CHAT, ""), prepare)

        self.wrap_hierarchy(
            module.BaseChatModel,
            {
                "_generate_with_cache": spec("invoke", False),
                "_agenerate_with_cache": spec("ainvoke", False),
                "stream": spec("stream", True),
                "astream": spec("astream", True),
            },
        )
