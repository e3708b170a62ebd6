"""The planner's tools. ``embed_query`` was pasted from a synchronous script: urllib inside ``async def``."""

from __future__ import annotations

import asyncio
import json
import os
import urllib.request

from appkit import Stopwatch

EMBEDDING_CALLS = Stopwatch()  # the app's own timing of the HTTP call
HOTELS = ["Harbour Inn", "Old Town Suites", "Station Hotel", "Garden Lodge", "Riverside Rooms"]


async def embed_query(text: str) -> list[float]:
    """Embed the query for the hotel similarity search, through the embeddings service."""
    request = urllib.request.Request(
        os.environ["OPENAI_BASE_URL"].rstrip("/") + "/embeddings",
        data=json.dumps({"model": "slow-120-text-embedder", "input": text}).encode(),
        headers={"Content-Type": "application/json", "Authorization": "Bearer " + os.environ["OPENAI_API_KEY"]},
    )
    with EMBEDDING_CALLS.timing(), urllib.request.urlopen(request, timeout=10) as response:
        body = json.loads(response.read())
    return [float(value) for value in body["data"][0]["embedding"]]


async def convert_currency(amount: float, currency: str) -> float:
    await asyncio.sleep(0.01)  # the exchange-rate service
    return round(amount * (1.1 if currency == "USD" else 1.0), 2)


def pick_hotels(vector: list[float], budget: float) -> list[str]:
    ranked = sorted(HOTELS, key=lambda name: (len(name) * vector[0]) % 1)
    return ranked[: 2 if budget < 150 else 3]
