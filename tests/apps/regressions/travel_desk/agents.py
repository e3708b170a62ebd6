"""The travel desk's agents: the planner drafts an itinerary, the writer turns it into the reply."""

from __future__ import annotations

import openai


class Planner:
    def __init__(self, client: openai.AsyncOpenAI) -> None:
        self.client = client

    async def itinerary(self, city: str, nights: int) -> str:
        response = await self.client.chat.completions.create(
            model="slow-350-itinerary-pro", messages=[{"role": "user", "content": f"{nights} nights in {city}"}]
        )
        return str(response.choices[0].message.content)


class Writer:
    def __init__(self, client: openai.AsyncOpenAI) -> None:
        self.client = client

    async def reply(self, plan: str, budget: float) -> str:
        response = await self.client.chat.completions.create(
            model="slow-20-reply-mini", messages=[{"role": "user", "content": f"reply with {plan}, budget {budget}"}]
        )
        return str(response.choices[0].message.content)
