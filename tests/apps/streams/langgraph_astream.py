"""A LangGraph ReAct agent (``create_react_agent`` on ChatOpenAI) streamed with ``astream``, message chunk
by message chunk, beside the fare check."""

from __future__ import annotations

import asyncio

from fares import check_all_fares, save_timings
from langchain_openai import ChatOpenAI
from langgraph.graph.state import CompiledStateGraph
from langgraph.prebuilt import create_react_agent

QUESTIONS = ["best month for Lisbon", "Vienna on a budget", "Kyoto in spring", "Istanbul food tour"]
MODEL = "slow-50-trip-writer"  # nine words, 50 ms apart: each answer streams for 0.45 s or more
READY_MODEL = "readiness-check"  # answers at once


def build_agent(model: str) -> CompiledStateGraph:
    return create_react_agent(ChatOpenAI(model=model), tools=[], name="trip_writer")


async def answer(agent: CompiledStateGraph, question: str) -> str:
    parts = []
    async for message, _metadata in agent.astream({"messages": [("user", question)]}, stream_mode="messages"):
        parts.append(str(message.content))
    return "".join(parts)


def check_ready() -> None:
    """At start, before the event loop runs: the model server answers a streamed call."""
    for _item in build_agent(READY_MODEL).stream({"messages": [("user", "ping")]}, stream_mode="messages"):
        pass


async def main() -> None:
    agent = build_agent(MODEL)
    await asyncio.gather(check_all_fares(), *(answer(agent, question) for question in QUESTIONS))
    save_timings()


if __name__ == "__main__":
    check_ready()
    asyncio.run(main())
