"""Two agents: a router that picks the topic, and the support agent that answers with its settings."""

from __future__ import annotations

import openai

from support_desk.settings import load_settings
from support_desk.tools import format_reply, lookup_faq


class Router:
    def __init__(self, client: openai.AsyncOpenAI, model: str) -> None:
        self.client, self.model = client, model

    async def route(self, question: str) -> str:
        response = await self.client.chat.completions.create(
            model=self.model, messages=[{"role": "user", "content": f"topic of: {question}"}]
        )
        return str(response.choices[0].message.content).split()[0]


class SupportAgent:
    def __init__(self, client: openai.AsyncOpenAI) -> None:
        self.client = client

    async def answer(self, question: str, topic: str) -> str:
        settings = load_settings()  # the settings may have changed... parsed again on every request
        faq = await lookup_faq(topic)
        response = await self.client.chat.completions.create(
            model=settings["models"]["answer"],
            messages=[
                {"role": "system", "content": settings["persona"]},
                {"role": "user", "content": f"{question}\n{faq}"},
            ],
        )
        return format_reply(str(response.choices[0].message.content))
