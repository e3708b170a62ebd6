"""The agent's tools: a document search, a calculator and a summariser."""

from __future__ import annotations

import asyncio
import time

DOCUMENTS = {
    "latency": "p95 latency is the 95th percentile of request durations.",
    "tokens": "Tokens are the unit LLM providers bill by.",
    "cache": "A cache keeps recent results to avoid recomputation.",
    "budget": "A budget caps the money an agent may spend per hour.",
}


async def search_docs(query: str) -> list[str]:
    await asyncio.sleep(0.01 * (1 + len(query) % 4))
    words = set(query.lower().split())
    return [text for key, text in DOCUMENTS.items() if key in words]


def calculate(expression: str) -> float:
    left, _, right = expression.partition("/")
    return float(left) / float(right)


def summarize(texts: list[str]) -> str:
    time.sleep(0.012 * len(texts))  # a synchronous summariser called from async code: it holds the loop
    return " ".join(text.split(".")[0] for text in texts)[:200]
