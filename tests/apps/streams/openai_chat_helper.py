"""OpenAI chat completions through the SDK's ``chat.completions.stream()`` helper, an async context
manager whose events carry the text, beside the fare check."""

from __future__ import annotations

import asyncio

import openai
from fares import check_all_fares, save_timings

QUESTIONS = ["best month for Lisbon", "Vienna on a budget", "Kyoto in spring", "Istanbul food tour"]
MODEL = "slow-50-trip-writer"  # nine words, 50 ms apart: each answer streams for 0.45 s or more
READY_MODEL = "readiness-check"  # answers at once


async def answer(client: openai.AsyncOpenAI, question: str) -> str:
    parts = []
    async with client.chat.completions.stream(model=MODEL, messages=[{"role": "user", "content": question}]) as stream:
        async for event in stream:
            if event.type == "content.delta":
                parts.append(event.delta)
    return "".join(parts)


def check_ready() -> None:
    """At start, before the event loop runs: the model server answers a streamed call."""
    with openai.OpenAI().chat.completions.stream(
        model=READY_MODEL, messages=[{"role": "user", "content": "ping"}]
    ) as stream:
        stream.until_done()


async def main() -> None:
    client = openai.AsyncOpenAI()
    await asyncio.gather(check_all_fares(), *(answer(client, question) for question in QUESTIONS))
    save_timings()


if __name__ == "__main__":
    check_ready()
    asyncio.run(main())
