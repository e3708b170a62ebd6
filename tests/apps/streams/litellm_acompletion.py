"""LiteLLM's ``acompletion(stream=True)`` through its OpenAI provider, beside the fare check."""

from __future__ import annotations

import asyncio
import os

import litellm
from fares import check_all_fares, save_timings

QUESTIONS = ["best month for Lisbon", "Vienna on a budget", "Kyoto in spring", "Istanbul food tour"]
MODEL = "slow-50-trip-writer"  # nine words, 50 ms apart: each answer streams for 0.45 s or more
READY_MODEL = "readiness-check"  # answers at once


async def answer(question: str) -> str:
    stream = await litellm.acompletion(
        model=f"openai/{MODEL}",
        messages=[{"role": "user", "content": question}],
        api_base=os.environ["OPENAI_BASE_URL"],
        stream=True,
    )
    return "".join([chunk.choices[0].delta.content or "" async for chunk in stream if chunk.choices])


def check_ready() -> None:
    """At start, before the event loop runs: the model server answers a streamed call."""
    for _chunk in litellm.completion(
        model=f"openai/{READY_MODEL}",
        messages=[{"role": "user", "content": "ping"}],
        api_base=os.environ["OPENAI_BASE_URL"],
        stream=True,
    ):
        pass


async def main() -> None:
    await asyncio.gather(check_all_fares(), *(answer(question) for question in QUESTIONS))
    save_timings()


if __name__ == "__main__":
    check_ready()
    asyncio.run(main())
