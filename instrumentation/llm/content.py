"""Opt-in capture of prompt and completion content, in the GenAI conventions' message shape.

Off unless ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT`` is ``true``, ``span_only`` or
``span_and_event`` (content then goes on the span; no events are emitted). Each text part is cut to
``OTEL_AGENTPERF_CONTENT_MAX_LENGTH`` characters (default 4096) before serialising, so the JSON
stays valid, and one attribute holds at most ``TOTAL_PARTS`` times that many characters of text: past
it, later parts are cut to nothing and later messages left out. Only message text and roles are read:
never headers, keys or client settings.
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


def _parts(content: Any, budget: _Budget) -> list[dict[str, str]]:
    if isinstance(content, str):
        return [{"type": "text", "content": budget.cut(content)}]
    parts = []
    for part in content if isinstance(content, list) else []:
        get = part.get if isinstance(part, dict) else lambda key, p=part: getattr(p, key, None)
        text = get("text")
        part_type = str(get("type") or "text")
        if isinstance(text, str):
            parts.append({"type": "text", "content": budget.cut(text)})
        else:
            parts.append({"type": part_type})
    return parts


def messages(items: Iterable[Any], limit: int) -> str:
    """Chat messages (dicts or SDK objects with ``role`` and ``content``) as the conventions' JSON."""
    shaped = []
    budget = _Budget(limit)
    for item in items:
        if budget.left <= 0:
            break
        get = item.get if isinstance(item, dict) else lambda key, i=item: getattr(i, key, None)
        shaped.append({"role": str(get("role") or "user"), "parts": _parts(get("content"), budget)})
    return json.dumps(shaped, ensure_ascii=False, separators=(",", ":"))


def output(texts: Iterable[str], finish_reason: str | None, limit: int) -> str:
    """One assistant message made of the response's text parts."""
    budget = _Budget(limit)
    parts = [{"type": "text", "content": budget.cut(text)} for text in texts]
    message: dict[str, Any] = {"role": "assistant", "parts": parts}
    if finish_reason:
        message["finish_reason"] = finish_reason
    return json.dumps([message], ensure_ascii=False, separators=(",", ":"))
