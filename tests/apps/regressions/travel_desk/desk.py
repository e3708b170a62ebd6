"""One travel request: geocode the city while the planner drafts, then price it and write the reply."""

from __future__ import annotations

import asyncio

import httpx

from travel_desk.agents import Planner, Writer
from travel_desk.tools import check_budget, geocode


async def plan_trip(planner: Planner, writer: Writer, http: httpx.AsyncClient, city: str, nights: int) -> str:
    # The geocoder is started first: the planner's call goes out when the geocoder first awaits.
    _, plan = await asyncio.gather(geocode(city, http), planner.itinerary(city, nights))
    return await writer.reply(plan, await check_budget(city, nights))
