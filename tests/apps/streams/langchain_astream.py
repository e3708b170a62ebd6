"""LangChain's ``ChatOpenAI(...).astream()``, beside the fare check."""

from __future__ import annotations

import asyncio

from fares import check_all_fares, save_timings
from langchain_openai import ChatOpenAI

QUESTIONS = ["best month for Lisbon", "Vienna on a budget", "Kyoto in spring", "Istanbul food tour"]
MODEL = "slow-50-trip-writer"  # nine words, 50 ms apart: each answer streams for 0.45 s or more
READY_MODEL = "readiness-check"  # answers at once


async def answer(model: ChatOpenAI, question: str) -> str:
    return "".join([str(chunk.content) async for chunk in model.astream(question)])


def check_ready() -> None:
    """At start, before the event loop runs: the model server answers a streamed call."""
    for _chunk in ChatOpenAI(model=READY_MODEL).stream("ping"):
        pass


async def main() -> None:
    writer = ChatOpenAI(model=MODEL)
    await asyncio.gather(check_all_fares(), *(answer(writer, question) for question in QUESTIONS))
    save_timings()


if __name__ == "__main__":
    check_ready()
    asyncio.run(main())
