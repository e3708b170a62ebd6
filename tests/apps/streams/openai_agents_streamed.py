"""The OpenAI Agents SDK: ``Runner.run_streamed()`` read through ``stream_events()``, beside the fare check."""

from __future__ import annotations

import asyncio

import openai
from agents import Agent, OpenAIChatCompletionsModel, Runner
from fares import check_all_fares, save_timings

QUESTIONS = ["best month for Lisbon", "Vienna on a budget", "Kyoto in spring", "Istanbul food tour"]
MODEL = "slow-50-trip-writer"  # nine words, 50 ms apart: each answer streams for 0.45 s or more
READY_MODEL = "readiness-check"  # answers at once


def build_agent() -> Agent[None]:
    return Agent(
        name="trip_writer",
        instructions="Write the trip.",
        model=OpenAIChatCompletionsModel(MODEL, openai.AsyncOpenAI()),
    )


async def answer(agent: Agent[None], question: str) -> str:
    run = Runner.run_streamed(agent, question)
    async for _event in run.stream_events():
        pass
    return str(run.final_output)


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
