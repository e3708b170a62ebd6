"""The doc writer's tools: source lookup and citations."""

from __future__ import annotations

import asyncio

SOURCES = ["rfc-9110", "design-notes", "changelog", "api-reference", "faq"]


async def find_sources(topic: str) -> list[str]:
    await asyncio.sleep(0.012)  # the document index
    return [source for source in SOURCES if len(source) % 2 == len(topic) % 2][:3]


def cite(sources: list[str]) -> str:
    return " ".join(f"[{source}]" for source in sources)
