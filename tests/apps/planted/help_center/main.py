"""The help center, done right: each request is routed by a small model, then answered with lookups run
together, settings parsed once, the transcript appended a line at a time. Nothing here is a bottleneck: the
time goes to the models, as it should."""

from __future__ import annotations

import openai
from appkit import serve

from help_center.agents import Answerer, Router
from help_center.history import Transcript

QUESTIONS = ["where is my order", "how do I reset my password", "can I change my plan", "why was I charged twice"]


def main() -> None:
    client = openai.AsyncOpenAI(max_retries=2)
    router, answerer = Router(client), Answerer(client, Transcript())

    async def handle(index: int) -> None:
        question = QUESTIONS[index % len(QUESTIONS)]
        topic = await router.route(question)
        await answerer.answer(f"customer-{index}", question, topic)

    async def warm_up() -> None:  # a readiness check before taking requests
        await router.route("ping")

    serve(handle, lambda: {}, warm_up)


if __name__ == "__main__":
    main()
