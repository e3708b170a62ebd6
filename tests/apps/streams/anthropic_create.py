"""Anthropic messages streamed with ``messages.create(stream=True)``, raw events, beside the fare check."""

from __future__ import annotations

import asyncio

import anthropic
from fares import check_all_fares, save_timings

QUESTIONS = ["best month for Lisbon", "Vienna on a budget", "Kyoto in spring", "Istanbul food tour"]
MODEL = "slow-50-trip-writer"  # nine words, 50 ms apart: each answer streams for 0.45 s or more
READY_MODEL = "readiness-check"  # answers at once


async def answer(client: anthropic.AsyncAnthropic, question: str) -> str:
    stream = await client.messages.create(
        model=MODEL, max_tokens=256, messages=[{"role": "user", "content": question}], stream=True
    )
    parts = []
    async for event in stream:
        if event.type == "content_block_delta" and event.delta.type == "text_delta":
            parts.append(event.delta.text)
    return "".join(parts)


def check_ready() -> None:
    """At start, before the event loop runs: the model server answers a streamed call."""
    for _event in anthropic.Anthropic().messages.create(
        model=READY_MODEL, max_tokens=16, messages=[{"role": "user", "content": "ping"}], stream=True
    ):
        pass


async def main() -> None:
    client = anthropic.AsyncAnthropic()
    await asyncio.gather(check_all_fares(), *(answer(client, question) for question in QUESTIONS))
    save_timings()


if __name__ == "__main__":
    check_ready()
    asyncio.run(main())
