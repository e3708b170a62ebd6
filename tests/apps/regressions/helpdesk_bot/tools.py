"""The help desk's tools: the knowledge-base search and the ticket formatter."""

from __future__ import annotations

import asyncio

ARTICLES = ["reset-password", "billing-cycle", "export-data", "sso-setup", "api-limits"]


async def kb_search(question: str) -> list[str]:
    await asyncio.sleep(0.015)  # the search service
    return [article for article in ARTICLES if len(article) % 3 != len(question) % 3][:2]


def format_ticket(question: str, answer: str) -> str:
    return f"Q: {question}\nA: {answer}"
