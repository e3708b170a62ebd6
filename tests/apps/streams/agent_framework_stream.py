"""A Microsoft Agent Framework agent streamed with ``agent.run(..., stream=True)``, beside the fare check."""

from __future__ import annotations

import asyncio

import openai
from agent_framework import Agent
from agent_framework.openai import OpenAIChatCompletionClient
from fares import check_all_fares, save_timings

QUESTIONS = ["best month for Lisbon", "Vienna on a budget", "Kyoto in spring", "Istanbul food tour"]
MODEL = "slow-50-trip-writer"  # nine words, 50 ms apart: each answer streams for 0.45 s or more
READY_MODEL = "readiness-check"  # answers at once


def build_agent() -> Agent:
    chat = OpenAIChatCompletionClient(model=MODEL, async_client=openai.AsyncOpenAI())
    return Agent(chat, "Write the trip.", name="trip_writer")


async def answer(agent: Agent, question: str) -> str:
    updates = agent.run(question, stream=True)
    async for _update in updates:
        pass
    return (await updates.get_final_response()).text


def check_ready() -> None:
    """At start, before the event loop runs: the model server answers a streamed call."""
    for _chunk in openai.OpenAI().chat.completions.create(
        model=READY_MODEL, messages=[{"role": "user", "content": "ping"}], stream=True
    ):
        pass


async def main() -> None:
    agent = build_agent()
    await asyncio.gather(check_all_fares(), *(answer(agent, question) for question in QUESTIONS))
    save_timings()


if __name__ == "__main__":
    check_ready()
    asyncio.run(main())
