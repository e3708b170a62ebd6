"""Anthropic SDK: ``messages.create`` sync and async, streaming or not, and the ``messages.stream()`` helper.

``messages.stream()`` returns a manager that makes its request on ``with``: its operation starts at
the call, moves to the raw stream the manager opens, and ends when that stream ends, is closed (the
``with`` block's exit), or is collected. Return values are never replaced (see ``patch``).

Anthropic reports input tokens without the cached ones; ``gen_ai.usage.input_tokens`` gets the sum
(uncached + cache reads + cache writes) as the conventions ask, with reads and writes also reported
on their own.

The SDK traces itself (its ``_tracing``, on by default when OpenTelemetry is installed): one CLIENT span per
API call, ``anthropic.messages.create`` (scope ``com.anthropic.sdk.python``). While our LLM operation is the
innermost one running, the SDK's ``start_api_call_span`` gets a non-recording span in our span's place
(``telemetry.stand_in``, as the Agent Framework's span helpers do), so a call is one span, ours, and the
trace context the SDK propagates names it. Calls we do not record keep the SDK's own span; an SDK without
its own tracing (older releases) has nothing to replace.
"""

from __future__ import annotations

import functools
from types import ModuleType
from typing import Any

from opentelemetry.util.types import AttributeValue

from otel_agentperf.conventions import names
from otel_agentperf.recording.invocations import LLMInvocation
from otel_agentperf.recording.telemetry import stand_in
from otel_agentperf.runtime import failures
from otel_agentperf.wrapping.wrappers import Call

from . import content, extractors, patch, streams


@functools.cache
def _followed_types() -> tuple[type, ...]:
    """What a call returns that goes on until it ends: the SDK's streams, and stream managers (the
    request is made on ``with``, then their state is handed to the raw stream)."""
    from anthropic import _streaming
    from anthropic.lib import streaming as helpers

    return (_streaming.Stream, _streaming.AsyncStream, helpers.MessageStreamManager, helpers.AsyncMessageStreamManager)


def _tokens(usage: Any) -> list[int | None]:
    """Anthropic usage as (all input, output, cache read, cache write)."""
    uncached = getattr(usage, "input_tokens", None)
    read = getattr(usage, "cache_read_input_tokens", None)
    write = getattr(usage, "cache_creation_input_tokens", None)
    total = None if uncached is None else uncached + (read or 0) + (write or 0)
    return [total, getattr(usage, "output_tokens", None), read, write]


def _read_event(state: streams.StreamState, event: Any) -> None:
    event_type = getattr(event, "type", None)
    if event_type == "content_block_delta":
        state.invocation.chunk()
        state.text(getattr(getattr(event, "delta", None), "text", None))
    elif event_type == "message_start":
        message = event.message
        state.response_id = getattr(message, "id", None)
        state.model(getattr(message, "model", None))
        if getattr(message, "usage", None) is not None:
            state.usage = _tokens(message.usage)
    elif event_type == "message_delta":
        reason = getattr(getattr(event, "delta", None), "stop_reason", None)
        if reason:
            state.finish_reasons.append(str(reason))
        output = getattr(getattr(event, "usage", None), "output_tokens", None)
        if output is not None:
            state.usage[1] = output  # cumulative: the last one is the total


def _result(invocation: LLMInvocation, result: object) -> None:
    if isinstance(result, _followed_types()):
        streams.follow_stream(invocation, result, _read_event)
        return
    usage = getattr(result, "usage", None)
    if usage is not None:
        invocation.set_usage(*_tokens(usage))
    reason = getattr(result, "stop_reason", None)
    output = None
    if content.enabled():
        blocks = getattr(result, "content", None) or []
        texts = [t for block in blocks if isinstance(t := getattr(block, "text", None), str)]
        calls = [(block.id, block.name, block.input) for block in blocks if getattr(block, "type", None) == "tool_use"]
        output = content.output(texts, reason, content.max_length(), calls)
    extractors.set_response(
        invocation, getattr(result, "id", None), getattr(result, "model", None), [reason or ""], output
    )


def _input_content(kwargs: dict[str, Any]) -> dict[str, AttributeValue]:
    limit = content.max_length()
    found: dict[str, AttributeValue] = {}
    if isinstance(messages := kwargs.get("messages"), list):
        found[names.GEN_AI_INPUT_MESSAGES] = content.messages(messages, limit)
    if isinstance(system := kwargs.get("system"), (str, list)):
        found[names.GEN_AI_SYSTEM_INSTRUCTIONS] = content.messages([{"role": "system", "content": system}], limit)
    return found


def _prepare(function: str, streaming: bool) -> Any:
    def prepare(instance: Any, _args: tuple[Any, ...], kwargs: dict[str, Any]) -> Call | None:
        if extractors.recorded_elsewhere():
            return None
        attributes = extractors.request_attributes({**kwargs, "stream": True} if streaming else kwargs)
        if content.enabled():
            attributes.update(_input_content(kwargs))
        operation = extractors.operation(function, names.PROVIDER_ANTHROPIC, names.OP_CHAT, extractors.model_of(kwargs))
        return Call(operation, attributes, extractors.server_attributes(instance), _result)

    return prepare


def _api_call_span(original: Any) -> Any:
    """The SDK's ``start_api_call_span``: our stand-in while our LLM operation records this call."""

    @functools.wraps(original)
    def start_api_call_span(*args: Any, **kwargs: Any) -> Any:
        try:
            span = stand_in(names.KIND_LLM)
        except Exception as exc:
            failures.report("replacing an Anthropic SDK span", exc)
            span = None
        return original(*args, **kwargs) if span is None else span

    return start_api_call_span


class AnthropicInstrumentor(patch.LLMInstrumentor):
    module = "anthropic"
    requirement = "anthropic >= 0.40"

    def patch(self, module: ModuleType) -> None:
        from anthropic import _base_client, _streaming
        from anthropic.lib import streaming as helpers
        from anthropic.resources import messages

        for method, streaming in (("create", False), ("stream", True)):
            function = f"anthropic.messages.{method}"
            for owner in (messages.Messages, messages.AsyncMessages):
                self.wrap_call(
                    owner, method, _prepare(function, streaming), function, names.PROVIDER_ANTHROPIC, names.OP_CHAT
                )
        self.replace_all(streams.stream_hooks(_streaming))
        self.replace_all(
            {
                (helpers.MessageStreamManager, "__enter__"): streams.enter_hook,
                (helpers.AsyncMessageStreamManager, "__aenter__"): streams.enter_hook,
                (helpers.MessageStream, "close"): streams.close_hook,
                (helpers.AsyncMessageStream, "close"): streams.close_hook,
            }
        )
        self.replace(_base_client, "start_api_call_span", _api_call_span, optional=True)
