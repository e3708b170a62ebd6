"""An Agent Framework app for the launcher test: a researcher agent with two tools, run and streamed.

``python agent_framework_app.py BASE_URL``; the framework's own telemetry is on (its default).
"""

from __future__ import annotations

import asyncio
import sys

import openai
from agent_framework import Agent, tool
from agent_framework.openai import OpenAIChatCompletionClient


@tool
def lookup(topic: str) -> str:
    """Look a topic up in the notes."""
    return f"notes on {topic}"


@tool
def count_sources(topic: str) -> int:
    """Count the sources on a topic."""
    return len(topic)


async def main(base_url: str) -> None:
    sdk = openai.AsyncOpenAI(base_url=base_url, api_key="sk-local", max_retries=0)
    chat = OpenAIChatCompletionClient(model="tools-2-researcher", async_client=sdk)
    agent = Agent(chat, "Research.", name="researcher", tools=[lookup, count_sources])
    print((await agent.run("why is my agent slow")).text)
    updates = agent.run("why is my agent slow", stream=True)
    async for _ in updates:
        pass
    print((await updates.get_final_response()).text)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
