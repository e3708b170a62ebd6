"""A price watch: each request checks eight products' prices at once, then writes a deal alert."""

from __future__ import annotations

import openai
from appkit import serve

from price_watch.agents import CALL_SECONDS, DealWriter, PriceChecker, polite_client

PRODUCTS = ["kettle", "lamp", "desk", "chair", "monitor", "router", "drill", "blender", "heater", "mixer"]


def main() -> None:
    checker, writer = PriceChecker(polite_client()), DealWriter(openai.AsyncOpenAI())
    unqueued: list[float] = []

    async def handle(index: int) -> None:
        prices = await checker.check_all([PRODUCTS[(index + step) % len(PRODUCTS)] for step in range(8)])
        await writer.write(prices)

    async def warm_up() -> None:  # a readiness check, one call at a time: what a check takes with no queue
        for _ in range(3):
            await checker.check("ping")
        unqueued.append(min(CALL_SECONDS))
        CALL_SECONDS.clear()
        await writer.write(["ping"])

    def measured() -> dict[str, float]:  # each check's time beyond an unqueued one's: its wait for a connection
        return {"culprit_seconds": sum(max(seconds - unqueued[0], 0.0) for seconds in CALL_SECONDS)}

    serve(handle, measured, warm_up)


if __name__ == "__main__":
    main()
