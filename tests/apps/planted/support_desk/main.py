"""The support desk: each request is routed by a small model, then answered with the desk's settings."""

from __future__ import annotations

import openai
from appkit import serve

from support_desk.agents import Router, SupportAgent
from support_desk.settings import PARSES, load_settings

QUESTIONS = ["where is my order", "how do I reset my password", "can I change my plan", "why was I charged twice"]


def main() -> None:
    client = openai.AsyncOpenAI(max_retries=2)
    router = Router(client, load_settings()["models"]["router"])
    agent = SupportAgent(client)

    async def handle(index: int) -> None:
        question = QUESTIONS[index % len(QUESTIONS)]
        topic = await router.route(question)
        await agent.answer(question, topic)

    # Every parse after the first read the same unchanged file again: that is the waste.
    async def warm_up() -> None:  # a readiness check before taking requests
        await router.route("ping")

    serve(handle, lambda: {"culprit_seconds": sum(PARSES.runs[1:]), "parses": len(PARSES.runs)}, warm_up)


if __name__ == "__main__":
    main()
