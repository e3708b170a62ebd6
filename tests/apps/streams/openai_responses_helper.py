"""The OpenAI Responses API through the SDK's ``responses.stream()`` helper (an async context manager),
read event by event and then as the final response, beside the fare check."""

from __future__ import annotations

import asyncio

import openai
from fares import check_all_fares, save_timings

QUESTIONS = ["best month for Lisbon", "Vienna on a budget", "Kyoto in spring", "Istanbul food tour"]
MODEL = "slow-50-trip-writer"  # nine words, 50 ms apart: each answer streams for 0.45 s or more
READY_MODEL = "readiness-check"  # answers at once


async def answer(client: openai.AsyncOpenAI, question: str) -> str:
    async with client.responses.stream(model=MODEL, input=question) as stream:
        async for _event in stream:
            pass
        response = await stream.get_final_response()
    return response.output_text


def check_ready() -> None:
    """At start, before the event loop runs: the model server answers a streamed call."""
    with openai.OpenAI().responses.stream(model=READY_MODEL, input="ping") as stream:
        stream.get_final_response()


async def main() -> None:
    client = openai.AsyncOpenAI()
    await asyncio.gather(check_all_fares(), *(answer(client, question) for question in QUESTIONS))
    save_timings()


if __name__ == "__main__":
    check_ready()
    asyncio.run(main())
