"""Anthropic's recommended streaming: the ``messages.stream()`` helper (a plain method returning an async
context manager) read through ``text_stream``, beside the fare check (issue #26's false loop holder)."""

from __future__ import annotations

import asyncio

import anthropic
from fares import check_all_fares, save_timings

QUESTIONS = ["best month for Lisbon", "Vienna on a budget", "Kyoto in spring", "Istanbul food tour"]
MODEL = "slow-50-trip-writer"  # nine words, 50 ms apart: each answer streams for 0.45 s or more
READY_MODEL = "readiness-check"  # answers at once


async def answer(client: anthropic.AsyncAnthropic, question: str) -> str:
    parts = []
    async with client.messages.stream(
        model=MODEL, max_tokens=256, messages=[{"role": "user", "content": question}]
    ) as stream:
        async for text in stream.text_stream:
            parts.append(text)
    return "".join(parts)


def check_ready() -> None:
    """At start, before the event loop runs: the model server answers a streamed call."""
    with anthropic.Anthropic().messages.stream(
        model=READY_MODEL, max_tokens=16, messages=[{"role": "user", "content": "ping"}]
    ) as stream:
        for _text in stream.text_stream:
            pass


async def main() -> None:
    client = anthropic.AsyncAnthropic()
    await asyncio.gather(check_all_fares(), *(answer(client, question) for question in QUESTIONS))
    save_timings()


if __name__ == "__main__":
    check_ready()
    asyncio.run(main())
