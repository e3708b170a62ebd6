"""Opt-in capture of prompt and completion content, in the GenAI conventions' message shape.

Off unless ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT`` is ``true``, ``span_only`` or
``span_and_event`` (content then goes on the span; no events are emitted). Each text part is cut to
``OTEL_AGENTPERF_CONTENT_MAX_LENGTH`` characters (default 4096) before serialising, so the JSON
stays valid, and one attribute holds at most ``TOTAL_PARTS`` times that many characters of text: past
it, later parts are cut to nothing and later messages left out. Tool calls and tool results keep the
conventions' ``tool_call`` (id, name, arguments) and ``tool_call_response`` (id, response) parts, their
arguments and results counted against the same budget. Only messages are read: never headers, keys or
client settings.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from otel_agentperf.runtime import settings

TOTAL_PARTS = 16  # an attribute's text, at most this many times the per-part limit


def enabled() -> bool:
    """Whether the user opted in to content capture (the settings snapshot's GenAI capture switch)."""
    return settings.current().capture_content


def max_length() -> int:
    """Characters kept of each text part."""
    return settings.current().content_max_length


class _Budget:
    """Characters of text one attribute may still take: each part up to ``limit``, all of them up to the total."""

    __slots__ = ("left", "limit")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.left = limit * TOTAL_PARTS

    def cut(self, text: str) -> str:
        kept = text[: min(self.limit, self.left)]
        self.left -= len(kept)
        return kept


def _getter(item: Any) -> Any:
    """``get(key)`` for a dict or an SDK object alike."""
    return item.get if isinstance(item, dict) else lambda key: getattr(item, key, None)


def _bounded(value: Any, budget: _Budget, parse: bool) -> Any:
    """Tool arguments or a tool's result as JSON values when they fit the budget, else their text cut.

    OpenAI sends arguments as a JSON string, Anthropic as an object: with ``parse`` both become the
    object the conventions show; a result stays the text the tool returned.
    """
    if isinstance(value, str):
        text = value
        structured: Any = value
        if parse:
            try:
                structured = json.loads(value)
            except ValueError:
                structured = value  # not JSON (a model can send anything): kept as the text it is
    else:
        text = json.dumps(value, ensure_ascii=False, default=str)
        structured = json.loads(text)
    kept = budget.cut(text)
    return structured if kept == text else kept


def tool_call(call_id: Any, name: Any, arguments: Any, budget: _Budget) -> dict[str, Any]:
    """A ``tool_call`` part: what the model asked a tool to do."""
    part: dict[str, Any] = {"type": "tool_call", "id": None if call_id is None else str(call_id), "name": str(name)}
    if arguments is not None:
        part["arguments"] = _bounded(arguments, budget, parse=True)
    return part


def _tool_response(call_id: Any, response: Any, budget: _Budget) -> dict[str, Any]:
    """A ``tool_call_response`` part: what a tool returned, for the call it answers."""
    if isinstance(response, list):  # content blocks: their text
        response = "".join(text for block in response if isinstance(text := _getter(block)("text"), str))
    return {
        "type": "tool_call_response",
        "id": None if call_id is None else str(call_id),
        "response": _bounded(response, budget, parse=False),
    }


def _parts(content: Any, budget: _Budget) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "content": budget.cut(content)}]
    parts: list[dict[str, Any]] = []
    for part in content if isinstance(content, list) else []:
        get = _getter(part)
        text = get("text")
        part_type = str(get("type") or "text")
        if part_type == "tool_use":  # Anthropic's tool call
            parts.append(tool_call(get("id"), get("name"), get("input"), budget))
        elif part_type == "tool_result":  # Anthropic's tool result, in a user turn
            parts.append(_tool_response(get("tool_use_id"), get("content"), budget))
        elif isinstance(text, str):
            parts.append({"type": "text", "content": budget.cut(text)})
        else:
            parts.append({"type": part_type})
    return parts


def _message(item: Any, budget: _Budget) -> dict[str, Any]:
    """One chat message or Responses input item in the conventions' shape, tool calls and results included."""
    get = _getter(item)
    item_type = get("type")
    if item_type == "function_call":  # Responses API: a call the model made, sent back as input
        return {"role": "assistant", "parts": [tool_call(get("call_id"), get("name"), get("arguments"), budget)]}
    if item_type == "function_call_output":
        return {"role": "tool", "parts": [_tool_response(get("call_id"), get("output"), budget)]}
    role = str(get("role") or "user")
    if role == "tool":  # OpenAI chat: the result of the call named by tool_call_id
        return {"role": role, "parts": [_tool_response(get("tool_call_id"), get("content"), budget)]}
    parts = _parts(get("content"), budget)
    for call in get("tool_calls") or []:
        call_get = _getter(call)
        function = _getter(call_get("function") or {})
        parts.append(tool_call(call_get("id"), function("name"), function("arguments"), budget))
    return {"role": role, "parts": parts}


def messages(items: Iterable[Any], limit: int) -> str:
    """Chat messages (dicts or SDK objects with ``role`` and ``content``) as the conventions' JSON."""
    shaped = []
    budget = _Budget(limit)
    for item in items:
        if budget.left <= 0:
            break
        shaped.append(_message(item, budget))
    return json.dumps(shaped, ensure_ascii=False, separators=(",", ":"))


def output(
    texts: Iterable[str], finish_reason: str | None, limit: int, tool_calls: Iterable[tuple[Any, Any, Any]] = ()
) -> str:
    """One assistant message made of the response's text parts, then its tool calls (id, name, arguments)."""
    budget = _Budget(limit)
    parts = [{"type": "text", "content": budget.cut(text)} for text in texts]
    parts += [tool_call(call_id, name, arguments, budget) for call_id, name, arguments in tool_calls]
    message: dict[str, Any] = {"role": "assistant", "parts": parts}
    if finish_reason:
        message["finish_reason"] = finish_reason
    return json.dumps([message], ensure_ascii=False, separators=(",", ":"))
