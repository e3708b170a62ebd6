"""The assistant's tools: retrieval from the docs index, and citations."""

from __future__ import annotations

import asyncio

PAGES = ["install.md", "configuration.md", "metrics.md", "dashboards.md", "faq.md"]


async def retrieve(query: str) -> list[str]:
    await asyncio.sleep(0.015)  # the vector index
    return [page for page in PAGES if len(page) % 3 != len(query) % 3][:3]


def cite(pages: list[str]) -> str:
    return " ".join(f"[{page}]" for page in pages)
