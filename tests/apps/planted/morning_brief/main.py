"""A morning brief per city: the planner gathers three digests, the writer turns them into a brief."""

from __future__ import annotations

import asyncio

import openai
from appkit import serve

from morning_brief.agents import DIGEST_SECONDS, Planner, Writer

CITIES = ["oslo", "lima", "pune", "perth"]


def main() -> None:
    client = openai.AsyncOpenAI()
    planner, writer = Planner(client), Writer(client)

    async def handle(index: int) -> None:
        digests = await planner.plan(CITIES[index % len(CITIES)])
        await writer.write(digests)

    async def warm_up() -> None:  # a readiness check before taking requests, opening the client's connections
        await asyncio.gather(*(writer.write({"ping": "ping"}) for _ in range(8)))

    def measured() -> dict[str, float]:  # what awaiting the digests together would have saved
        return {"culprit_seconds": sum(sum(runs) - max(runs) for runs in DIGEST_SECONDS)}

    serve(handle, measured, warm_up)


if __name__ == "__main__":
    main()
