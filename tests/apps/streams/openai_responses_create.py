"""The OpenAI Responses API streamed with ``responses.create(stream=True)``, beside the fare check."""

from __future__ import annotations

import asyncio

import openai
from fares import check_all_fares, save_timings

QUESTIONS = ["best month for Lisbon", "Vienna on a budget", "Kyoto in spring", "Istanbul food tour"]
MODEL = "slow-50-trip-writer"  # nine words, 50 ms apart: each answer streams for 0.45 s or more
READY_MODEL = "readiness-check"  # answers at once


async def answer(client: openai.AsyncOpenAI, question: str) -> str:
    stream = await client.responses.create(model=MODEL, input=question, stream=True)
    return "".join([event.delta async for event in stream if event.type == "response.output_text.delta"])


def check_ready() -> None:
    """At start, before the event loop runs: the model server answers a streamed call."""
    for _event in openai.OpenAI().responses.create(model=READY_MODEL, input="ping", stream=True):
        pass


async def main() -> None:
    client = openai.AsyncOpenAI()
    await asyncio.gather(check_all_fares(), *(answer(client, question) for question in QUESTIONS))
    save_timings()


if __name__ == "__main__":
    check_ready()
    asyncio.run(main())
