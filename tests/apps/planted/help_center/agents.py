"""Two agents: a router that picks the topic, and an answerer that looks up what it needs at once."""

from __future__ import annotations

import asyncio

import openai

from help_center.history import Transcript
from help_center.settings import load_settings
from help_center.tools import format_reply, lookup_account, lookup_faq


class Router:
    def __init__(self, client: openai.AsyncOpenAI) -> None:
        self.client = client

    async def route(self, question: str) -> str:
        response = await self.client.chat.completions.create(
            model=load_settings()["models"]["router"], messages=[{"role": "user", "content": f"topic of: {question}"}]
        )
        return str(response.choices[0].message.content).split()[0]


class Answerer:
    def __init__(self, client: openai.AsyncOpenAI, transcript: Transcript) -> None:
        self.client, self.transcript = client, transcript

    async def answer(self, customer: str, question: str, topic: str) -> str:
        settings = load_settings()
        faq, account = await asyncio.gather(lookup_faq(topic), lookup_account(customer))
        response = await self.client.chat.completions.create(
            model=settings["models"]["answer"],
            messages=[
                {"role": "system", "content": settings["persona"]},
                {"role": "user", "content": f"{question}\n{faq}\n{account}"},
            ],
        )
        reply = format_reply(str(response.choices[0].message.content))
        self.transcript.append({"customer": customer, "question": question, "reply": reply})
        return reply
