"""The order desk: each request is a customer asking where their order is."""

from __future__ import annotations

import openai
from appkit import serve

from order_desk.agents import OrderAgent
from order_desk.tools import REPEAT_SECONDS

QUESTIONS = ["where is my order?", "when will it arrive?", "can I change the address?"]


def main() -> None:
    agent = OrderAgent(openai.AsyncOpenAI())

    async def handle(index: int) -> None:
        await agent.answer(index, f"A{1000 + index}", QUESTIONS[index % len(QUESTIONS)])

    async def warm_up() -> None:  # a readiness check before taking requests
        await agent.client.chat.completions.create(
            model="slow-10-support-answerer", messages=[{"role": "user", "content": "ping"}]
        )

    serve(handle, lambda: {"culprit_seconds": sum(REPEAT_SECONDS)}, warm_up)


if __name__ == "__main__":
    main()
