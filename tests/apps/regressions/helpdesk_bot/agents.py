"""The help desk's agents: a small model routes each question, the big one answers from the articles."""

from __future__ import annotations

import openai
from appkit import charge_usage, timing

from helpdesk_bot import settings
from helpdesk_bot.tools import kb_search


class Router:
    def __init__(self, client: openai.AsyncOpenAI) -> None:
        self.client = client

    async def route(self, question: str) -> str:
        response = await self.client.chat.completions.create(
            model="slow-20-router-mini", messages=[{"role": "user", "content": f"which team: {question}"}]
        )
        return str(response.choices[0].message.content)


class Answerer:
    def __init__(self, client: openai.AsyncOpenAI) -> None:
        self.client = client

    async def _ask(self, prompt: str) -> str:
        with timing():  # the app's own bookkeeping of what the big model costs a request
            response = await self.client.chat.completions.create(
                model=settings.ANSWER_MODEL, messages=[{"role": "user", "content": prompt}]
            )
        charge_usage(response.usage, settings.ANSWER_PRICES)
        return str(response.choices[0].message.content)

    async def answer(self, question: str, team: str) -> str:
        articles = await kb_search(question)
        draft = await self._ask(f"As {team}, answer {question} from {', '.join(articles)}")
        if settings.VERIFY_ANSWERS:
            return await self._ask(f"Check this answer against {', '.join(articles)} and fix it: {draft}")
        return draft
