"""The travel desk: every request plans a trip to a city."""

from __future__ import annotations

import httpx
import openai
from appkit import serve

from travel_desk.agents import Planner, Writer
from travel_desk.desk import plan_trip

CITIES = ["Lisbon", "Oslo", "Kyoto", "Lima", "Cairo"]


def main() -> None:
    client = openai.AsyncOpenAI(max_retries=2)
    planner, writer = Planner(client), Writer(client)
    http = httpx.AsyncClient()

    async def handle(index: int) -> None:
        await plan_trip(planner, writer, http, CITIES[index % len(CITIES)], 2 + index % 3)

    async def warm_up() -> None:  # a readiness check before taking requests
        await client.chat.completions.create(model="health-check-mini", messages=[{"role": "user", "content": "ping"}])

    serve(handle, warm_up)


if __name__ == "__main__":
    main()
