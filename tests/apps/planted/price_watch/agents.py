"""A price checker that asks a model about every product at once, through a client kept small "to be nice
to the provider" (two connections), and a writer that turns the prices into a deal alert."""

from __future__ import annotations

import asyncio
import time

import httpx2
import openai

from price_watch.tools import normalise_prices

CHECKER = "slow-40-price-checker"
CALL_SECONDS: list[float] = []  # stopwatch time of every price check, queued or not


def polite_client() -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(http_client=openai.DefaultAsyncHttpxClient(limits=httpx2.Limits(max_connections=2)))


class PriceChecker:
    def __init__(self, client: openai.AsyncOpenAI) -> None:
        self.client = client

    async def check(self, product: str) -> str:
        start = time.perf_counter()
        response = await self.client.chat.completions.create(
            model=CHECKER, messages=[{"role": "user", "content": f"price of {product}"}]
        )
        CALL_SECONDS.append(time.perf_counter() - start)
        return str(response.choices[0].message.content)

    async def check_all(self, products: list[str]) -> list[str]:
        return list(await asyncio.gather(*(self.check(product) for product in products)))


class DealWriter:
    def __init__(self, client: openai.AsyncOpenAI) -> None:
        self.client = client

    async def write(self, prices: list[str]) -> str:
        response = await self.client.chat.completions.create(
            model="slow-20-deal-writer", messages=[{"role": "user", "content": " ".join(normalise_prices(prices))}]
        )
        return str(response.choices[0].message.content)
