"""The travel planner: each request plans a trip, shortlists hotels and writes the itinerary."""

from __future__ import annotations

import openai
from appkit import serve

from travel_planner.agents import ItineraryWriter, Planner
from travel_planner.tools import EMBEDDING_CALLS

TRIPS = [("three days in Lisbon", 120.0), ("a weekend in Vienna", 180.0), ("a week in Kyoto", 140.0)]


def main() -> None:
    client = openai.AsyncOpenAI(max_retries=2)
    planner, writer = Planner(client), ItineraryWriter(client)

    async def handle(index: int) -> None:
        trip, budget = TRIPS[index % len(TRIPS)]
        draft, hotels = await planner.plan(trip, budget)
        await writer.write(draft, hotels)

    async def warm_up() -> None:  # a readiness check before taking requests
        await writer.write("ping", [])

    serve(handle, lambda: {"culprit_seconds": EMBEDDING_CALLS.total, "calls": len(EMBEDDING_CALLS.runs)}, warm_up)


if __name__ == "__main__":
    main()
