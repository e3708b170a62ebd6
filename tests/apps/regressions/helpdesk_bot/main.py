"""The help desk: every question is routed to a team, answered from the knowledge base, and filed."""

from __future__ import annotations

import openai
from appkit import serve

from helpdesk_bot.agents import Answerer, Router
from helpdesk_bot.desk import answer_question

QUESTIONS = ["how do I reset my password", "when am I billed", "can I export my data", "how do I set up sso"]


def main() -> None:
    client = openai.AsyncOpenAI(max_retries=2)
    router, answerer = Router(client), Answerer(client)

    async def handle(index: int) -> None:
        await answer_question(router, answerer, QUESTIONS[index % len(QUESTIONS)])

    async def warm_up() -> None:  # a readiness check before taking requests
        await client.chat.completions.create(model="health-check-mini", messages=[{"role": "user", "content": "ping"}])

    serve(handle, warm_up)


if __name__ == "__main__":
    main()
