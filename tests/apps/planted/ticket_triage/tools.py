"""The triage desk's tools."""

from __future__ import annotations

import asyncio


async def kb_search(query: str) -> list[str]:
    await asyncio.sleep(0.01)  # the knowledge-base service
    return [f"article about {word}" for word in query.split()[:3]]


def tag_ticket(text: str) -> list[str]:
    return sorted({word for word in text.lower().split() if len(word) > 6})[:5]
