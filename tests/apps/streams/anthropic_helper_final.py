"""The Anthropic ``messages.stream()`` helper used for its final message only: enter the context manager
and ``await stream.get_final_message()``, beside the fare check."""

from __future__ import annotations

import asyncio

import anthropic
from fares import check_all_fares, save_timings

QUESTIONS = ["best month for Lisbon", "Vienna on a budget", "Kyoto in spring", "Istanbul food tour"]
MODEL = "slow-50-trip-writer"  # nine words, 50 ms apart: each answer streams for 0.45 s or more
READY_MODEL = "readiness-check"  # answers at once


async def answer(client: anthropic.AsyncAnthropic, question: str) -> str:
    async with client.messages.stream(
        model=MODEL, max_tokens=256, messages=[{"role": "user", "content": question}]
    ) as stream:
        message = await stream.get_final_message()
    return "".join(block.text for block in message.content if block.type == "text")


def check_ready() -> None:
    """At start, before the event loop runs: the model server answers a streamed call."""
    with anthropic.Anthropic().messages.stream(
        model=READY_MODEL, max_tokens=16, messages=[{"role": "user", "content": "ping"}]
    ) as stream:
        stream.get_final_message()


async def main() -> None:
    client = anthropic.AsyncAnthropic()
    await asyncio.gather(check_all_fares(), *(answer(client, question) for question in QUESTIONS))
    save_timings()


if __name__ == "__main__":
    check_ready()
    asyncio.run(main())
