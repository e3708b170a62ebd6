"""A quote builder whose quotes spend their CPU in one function: the discount tiers. The app times that work
with its own stopwatch, beside the whole of the pricing steps."""

from __future__ import annotations

from appkit import serve

from quote_builder.agents import QuoteAgent
from quote_builder.pricing import DISCOUNTS, PRICING

CUSTOMERS = ["acme", "globex", "initech", "umbrella"]


def main() -> None:
    agent = QuoteAgent()

    async def warm_up() -> None:  # the readiness check: the SDK's first call builds what it needs
        await agent.quote("warmup", "one desk")
        DISCOUNTS.runs.clear()
        PRICING.runs.clear()

    async def handle(index: int) -> None:
        await agent.quote(CUSTOMERS[index % len(CUSTOMERS)], "desks, chairs and lamps for a new office")

    def measured() -> dict[str, float]:
        return {"culprit_seconds": DISCOUNTS.total, "pricing_seconds": PRICING.total}

    serve(handle, measured, warm_up)


if __name__ == "__main__":
    main()
