"""Two agents: the planner drafts the trip and shortlists hotels, the writer turns it into an itinerary."""

from __future__ import annotations

import openai

from travel_planner.tools import convert_currency, embed_query, pick_hotels


class Planner:
    def __init__(self, client: openai.AsyncOpenAI) -> None:
        self.client = client

    async def plan(self, trip: str, budget: float) -> tuple[str, list[str]]:
        draft = await self.client.chat.completions.create(
            model="slow-10-planner-mini", messages=[{"role": "user", "content": f"plan: {trip}"}]
        )
        vector = await embed_query(trip)
        local_budget = await convert_currency(budget, "USD")
        return str(draft.choices[0].message.content), pick_hotels(vector, local_budget)


class ItineraryWriter:
    def __init__(self, client: openai.AsyncOpenAI) -> None:
        self.client = client

    async def write(self, draft: str, hotels: list[str]) -> str:
        response = await self.client.chat.completions.create(
            model="slow-20-itinerary-writer",
            messages=[{"role": "user", "content": f"itinerary from: {draft}; hotels: {', '.join(hotels)}"}],
        )
        return str(response.choices[0].message.content)
