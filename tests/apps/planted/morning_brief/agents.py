"""A morning brief: three digests, each from its own model, then a writer that puts them together."""

from __future__ import annotations

import time

import openai

from morning_brief.tools import headline_filter

DIGESTS = {"news": "slow-90-news-digest", "markets": "slow-90-markets-digest", "weather": "slow-90-weather-digest"}
DIGEST_SECONDS: list[list[float]] = []  # per request, each digest call's stopwatch time


class Planner:
    def __init__(self, client: openai.AsyncOpenAI) -> None:
        self.client = client

    async def plan(self, city: str) -> dict[str, str]:
        # The three digests do not depend on each other, yet each is awaited before the next starts.
        found: dict[str, str] = {}
        timings: list[float] = []
        for topic, model in DIGESTS.items():
            start = time.perf_counter()
            response = await self.client.chat.completions.create(
                model=model, messages=[{"role": "user", "content": f"{topic} digest for {city}"}]
            )
            timings.append(time.perf_counter() - start)
            found[topic] = str(response.choices[0].message.content)
        DIGEST_SECONDS.append(timings)
        return found


class Writer:
    def __init__(self, client: openai.AsyncOpenAI) -> None:
        self.client = client

    async def write(self, digests: dict[str, str]) -> str:
        lines = headline_filter(list(digests.values()))
        response = await self.client.chat.completions.create(
            model="slow-20-brief-writer", messages=[{"role": "user", "content": "write: " + " ".join(lines)}]
        )
        return str(response.choices[0].message.content)
