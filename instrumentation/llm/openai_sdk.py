"""OpenAI SDK (1.40 to 3.x): chat completions, responses and embeddings, sync and async, streaming or not.

Wrapped: ``chat.completions.create`` and ``parse``, ``responses.create`` and ``parse``,
``embeddings.create``. The ``.stream()`` helpers call ``create`` themselves, so they are recorded
through it; their helper streams' ``close`` is hooked because it closes the HTTP response rather
than the raw stream. Return values are never replaced (see ``patch``).

Token usage on chat streams is what the user asked the API for: ``stream_options`` is never added to
a request (a usage chunk has no ``choices``, which code indexing ``chunk.choices[0]`` would trip on).
No prompt or completion content is recorded unless the GenAI capture switch is on.
"""

from __future__ import annotations

import functools
import importlib.machinery
import sys
from collections.abc import Callable
from types import ModuleType
from typing import Any

from opentelemetry.util.types import AttributeValue

from otel_agentperf.conventions import names
from otel_agentperf.recording.invocations import LLMInvocation
from otel_agentperf.wrapping.wrappers import Call

from . import content, extractors, patch, streams


@functools.cache
def _stream_types() -> tuple[type, ...]:
    from openai import _streaming

    return (_streaming.Stream, _streaming.AsyncStream)


@functools.cache
def _raw_types() -> tuple[type, ...]:
    from openai import _legacy_response

    return (_legacy_response.LegacyAPIResponse,)


def _usage(invocation: LLMInvocation, usage: Any, input_key: str, output_key: str, details_key: str) -> None:
    if usage is not None:
        cached = extractors.field(extractors.field(usage, details_key), "cached_tokens")
        invocation.set_usage(extractors.field(usage, input_key), extractors.field(usage, output_key), cached)


def read_chat_chunk(state: streams.StreamState, chunk: Any) -> None:
    """One chat-completion chunk: the OpenAI SDK's, or LiteLLM's (the same fields, its own classes)."""
    if state.response_model is None:
        state.model(getattr(chunk, "model", None))
    choices = getattr(chunk, "choices", None)
    if choices:
        state.invocation.chunk()
        for choice in choices:
            if getattr(choice, "finish_reason", None):
                state.finish_reasons.append(str(choice.finish_reason))
            if state.texts is not None:
                delta = getattr(choice, "delta", None)
                state.text(getattr(delta, "content", None))
                for call in getattr(delta, "tool_calls", None) or []:
                    function = getattr(call, "function", None)
                    state.tool_call(
                        getattr(call, "index", 0),
                        getattr(call, "id", None),
                        getattr(function, "name", None),
                        getattr(function, "arguments", None),
                    )
    state.response_id = state.response_id or getattr(chunk, "id", None)
    usage = getattr(chunk, "usage", None)
    if usage is not None:
        cached = extractors.field(extractors.field(usage, "prompt_tokens_details"), "cached_tokens")
        state.usage[:3] = [
            extractors.field(usage, "prompt_tokens"),
            extractors.field(usage, "completion_tokens"),
            cached,
        ]


def _read_response_event(state: streams.StreamState, event: Any) -> None:
    event_type = str(getattr(event, "type", ""))
    if event_type.endswith(".delta"):
        state.invocation.chunk()
        if event_type == "response.output_text.delta":
            state.text(getattr(event, "delta", None))
    response = getattr(event, "response", None)
    if response is None:
        return
    state.response_id = getattr(response, "id", None) or state.response_id
    state.model(getattr(response, "model", None))
    usage = getattr(response, "usage", None)
    if usage is not None:
        cached = extractors.field(extractors.field(usage, "input_tokens_details"), "cached_tokens")
        state.usage[:3] = [extractors.field(usage, "input_tokens"), extractors.field(usage, "output_tokens"), cached]
    reason = getattr(getattr(response, "incomplete_details", None), "reason", None)
    if reason:
        state.finish_reasons.append(str(reason))


def _chat_result(invocation: LLMInvocation, result: object) -> None:
    if isinstance(result, _stream_types()):
        streams.follow_stream(invocation, result, read_chat_chunk)
        return
    _usage(invocation, getattr(result, "usage", None), "prompt_tokens", "completion_tokens", "prompt_tokens_details")
    chat_response(invocation, result)


def chat_response(invocation: LLMInvocation, result: object) -> None:
    """Finish reasons, id, model and (opt-in) output of a chat completion, the SDK's or LiteLLM's."""
    choices = getattr(result, "choices", None) or []
    reasons = [str(choice.finish_reason) for choice in choices if getattr(choice, "finish_reason", None)]
    output = None
    if choices and content.enabled():
        texts, calls = [], []
        for choice in choices:
            message = choice.message
            made = [
                (call.id, call.function.name, call.function.arguments)
                for call in getattr(message, "tool_calls", None) or []
                if getattr(call, "function", None) is not None
            ]
            text = getattr(message, "content", None)
            if text or not made:  # a turn that only calls tools has no text part, not an empty one
                texts.append(text or "")
            calls += made
        output = content.output(texts, next(iter(reasons), None), content.max_length(), calls)
    extractors.set_response(invocation, getattr(result, "id", None), getattr(result, "model", None), reasons, output)


def _response_result(invocation: LLMInvocation, result: object) -> None:
    if isinstance(result, _stream_types()):
        streams.follow_stream(invocation, result, _read_response_event)
        return
    _usage(invocation, getattr(result, "usage", None), "input_tokens", "output_tokens", "input_tokens_details")
    reason = getattr(getattr(result, "incomplete_details", None), "reason", None)
    output = None
    if content.enabled() and isinstance(text := getattr(result, "output_text", None), str):
        calls = [
            (item.call_id, item.name, item.arguments)
            for item in getattr(result, "output", None) or []
            if getattr(item, "type", None) == "function_call"
        ]
        output = content.output([text] if text or not calls else [], reason, content.max_length(), calls)
    extractors.set_response(
        invocation, getattr(result, "id", None), getattr(result, "model", None), [reason or ""], output
    )


def embeddings_result(invocation: LLMInvocation, result: object) -> None:
    """Input tokens and model of an embeddings response, the SDK's or LiteLLM's."""
    usage = getattr(result, "usage", None)
    if usage is not None:
        invocation.set_usage(getattr(usage, "prompt_tokens", None), None)
    extractors.set_response(invocation, None, getattr(result, "model", None), ())


def _parsed(on_result: Any) -> Any:
    """``with_raw_response`` (LangChain's ChatOpenAI uses it) returns the HTTP response around the result.

    Its body is already read; ``parse()`` caches what it returns, so the caller's own ``parse()`` gets the
    very object (or stream) read here. ``with_streaming_response`` is left alone: its body is not read yet.
    A body that does not parse fails the caller's own ``parse()`` the same way: the operation is an error.
    """

    def hook(invocation: LLMInvocation, result: object) -> None:
        if isinstance(result, _raw_types()):
            try:
                result = result.parse()  # type: ignore[attr-defined]
            except Exception as exc:
                invocation.fail(exc)
                return
        on_result(invocation, result)

    return hook


def _provider(resource: Any) -> str:
    """``azure.ai.openai`` for an Azure OpenAI client (the conventions' value for that service), else ``openai``."""
    client = getattr(resource, "_client", None)
    base = getattr(sys.modules.get("openai.lib.azure"), "BaseAzureClient", None)  # imported by ``openai``
    return names.PROVIDER_AZURE_OPENAI if base is not None and isinstance(client, base) else names.PROVIDER_OPENAI


def _prepare(function: str, operation_name: str, on_result: Any) -> Any:
    def prepare(instance: Any, _args: tuple[Any, ...], kwargs: dict[str, Any]) -> Call | None:
        if extractors.recorded_elsewhere():
            return None
        attributes: dict[str, AttributeValue] = extractors.request_attributes(kwargs)
        if isinstance(formats := kwargs.get("encoding_format"), str):
            attributes[names.GEN_AI_REQUEST_ENCODING_FORMATS] = [formats]
        if operation_name == names.OP_CHAT and content.enabled():
            attributes.update(input_content(kwargs))
        operation = extractors.operation(function, _provider(instance), operation_name, extractors.model_of(kwargs))
        return Call(operation, attributes, extractors.server_attributes(instance), _parsed(on_result))

    return prepare


def input_content(kwargs: dict[str, Any]) -> dict[str, AttributeValue]:
    """Opt-in input messages and instructions of a chat request (OpenAI's shape, which LiteLLM takes too)."""
    limit = content.max_length()
    found: dict[str, AttributeValue] = {}
    messages = kwargs.get("messages", kwargs.get("input"))
    if isinstance(messages, str):
        messages = [{"role": "user", "content": messages}]
    if isinstance(messages, list):
        found[names.GEN_AI_INPUT_MESSAGES] = content.messages(messages, limit)
    if isinstance(instructions := kwargs.get("instructions"), str):
        found[names.GEN_AI_SYSTEM_INSTRUCTIONS] = content.messages([{"role": "system", "content": instructions}], limit)
    return found


# (module, sync class, async class, method, function name, operation name, result hook)
_METHODS = (
    ("openai.resources.chat.completions", "Completions", "AsyncCompletions", "create", names.OP_CHAT, _chat_result),
    ("openai.resources.chat.completions", "Completions", "AsyncCompletions", "parse", names.OP_CHAT, _chat_result),
    ("openai.resources.responses", "Responses", "AsyncResponses", "create", names.OP_CHAT, _response_result),
    ("openai.resources.responses", "Responses", "AsyncResponses", "parse", names.OP_CHAT, _response_result),
    ("openai.resources.embeddings", "Embeddings", "AsyncEmbeddings", "create", names.OP_EMBEDDINGS, embeddings_result),
)
# Helper streams opened by the ``.stream()`` managers, whose close is hooked.
_HELPER_STREAMS = (
    ("openai.lib.streaming.chat", ("ChatCompletionStream", "AsyncChatCompletionStream")),
    ("openai.lib.streaming.responses", ("ResponseStream", "AsyncResponseStream")),
)


def _on_disk(name: str) -> bool:
    """Whether the installed SDK has module ``name``, looked up on disk: neither it nor its packages imported."""
    package = sys.modules.get("openai")
    search = list(getattr(package, "__path__", None) or ())
    parts = name.split(".")
    for depth in range(2, len(parts) + 1):
        spec = importlib.machinery.PathFinder.find_spec(".".join(parts[:depth]), search)
        if spec is None:
            return False
        search = list(spec.submodule_search_locations or ())
    return True


class OpenAIInstrumentor(patch.LLMInstrumentor):
    module = "openai"
    requirement = "openai >= 1.40"

    def hooks(self) -> list[tuple[str, Callable[[ModuleType], None]]]:
        """``openai`` itself, then each module a wrapped class lives in, wrapped when the app imports it.

        ``import openai`` imports none of them, and a chat call only the chat ones: importing them all up
        front would import the responses types too (the largest part of the SDK) in an app that only chats.
        """
        modules = dict.fromkeys(name for name, *_ in _METHODS) | dict.fromkeys(name for name, _ in _HELPER_STREAMS)
        return [(self.module, self.patch), *((name, functools.partial(self._patch_module, name)) for name in modules)]

    def patch(self, module: ModuleType) -> None:
        from openai import _streaming

        self.replace_all(streams.stream_hooks(_streaming))
        for module_name, sync_name, async_name, *_ in _METHODS:
            if not _on_disk(module_name):
                for class_name in (sync_name, async_name):
                    self.missing(module, f"{class_name} ({module_name})")
        for module_name, class_names in _HELPER_STREAMS:
            if not _on_disk(module_name):
                for class_name in class_names:
                    self.missing(module, f"{class_name} ({module_name})")

    def _patch_module(self, module_name: str, resources: ModuleType) -> None:
        for name, sync_name, async_name, method, operation_name, on_result in _METHODS:
            if name != module_name:
                continue
            function = f"{module_name.replace('.resources', '')}.{method}"
            prepare = _prepare(function, operation_name, on_result)
            for class_name in (sync_name, async_name):
                owner = getattr(resources, class_name, None)
                if owner is None:
                    self.missing(resources, f"{class_name} ({module_name})")
                    continue
                self.wrap_call(owner, method, prepare, function, names.PROVIDER_OPENAI, operation_name)
        for name, class_names in _HELPER_STREAMS:
            if name != module_name:
                continue
            for class_name in class_names:
                helper = getattr(resources, class_name, None)
                if helper is None:
                    self.missing(resources, f"{class_name} ({module_name})")
                    continue
                self.replace_all({(helper, "close"): streams.close_hook})
