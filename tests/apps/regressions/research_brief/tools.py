"""The research assistant's tools."""

from __future__ import annotations

import asyncio


async def expand_query(topic: str) -> list[str]:
    await asyncio.sleep(0.008)  # the synonyms service
    return [topic, f"{topic} benchmarks", f"{topic} survey"]


def format_brief(topic: str, web: str, papers: str, summary: str) -> str:
    return f"# {topic}\n\n{summary}\n\nWeb: {web}\n\nPapers: {papers}"
