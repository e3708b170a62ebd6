"""OpenAI chat completions streamed with ``create(stream=True)`` and ``async for``, beside the fare check."""

from __future__ import annotations

import asyncio

import openai
from fares import check_all_fares, save_timings

QUESTIONS = ["best month for Lisbon", "Vienna on a budget", "Kyoto in spring", "Istanbul food tour"]
MODEL = "slow-50-trip-writer"  # nine words, 50 ms apart: each answer streams for 0.45 s or more
READY_MODEL = "readiness-check"  # answers at once


async def answer(client: openai.AsyncOpenAI, question: str) -> str:
    stream = await client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": question}], stream=True
    )
    parts = [chunk.choices[0].delta.content or "" async for chunk in stream if chunk.choices]
    return "".join(parts)


def check_ready() -> None:
    """At start, before the event loop runs: the model server answers a streamed call."""
    for _chunk in openai.OpenAI().chat.completions.create(
        model=READY_MODEL, messages=[{"role": "user", "content": "ping"}], stream=True
    ):
        pass


async def main() -> None:
    client = openai.AsyncOpenAI()
    await asyncio.gather(check_all_fares(), *(answer(client, question) for question in QUESTIONS))
    save_timings()


if __name__ == "__main__":
    check_ready()
    asyncio.run(main())
