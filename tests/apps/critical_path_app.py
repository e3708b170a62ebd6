"""An async trip planner with requests in flight together, for the critical-path tests: ``critical_path_app.py N``.

Each request is the agent ``Planner``: it looks up the traveller's preferences (a tool), gathers a flight
search and a weather lookup (the search finishes last, so the weather tool is off the path), asks the model
through the real ``openai.AsyncOpenAI`` (``OPENAI_BASE_URL``: the local server), and geocodes the answer
with a tool that calls a synchronous client from async code, holding the event loop 30 ms, which the other
requests in flight wait for. N requests run at once (8 by default).
"""

from __future__ import annotations

import asyncio
import sys
import time

import openai

import otel_agentperf as perf


@perf.tool
async def preferences(traveller: str) -> str:
    await asyncio.sleep(0.02)
    return f"{traveller}: aisle"


@perf.tool
async def search_flights(city: str) -> str:
    await asyncio.sleep(0.12)
    return f"3 flights to {city}"


@perf.tool
async def weather(city: str) -> str:
    await asyncio.sleep(0.04)
    return f"sunny in {city}"


@perf.tool
async def geocode(city: str) -> str:
    time.sleep(0.03)  # a synchronous client in async code: it holds the event loop
    return f"{city}: 48.85, 2.35"


@perf.agent
async def planner(client: openai.AsyncOpenAI, traveller: str, city: str) -> str:
    liked = await preferences(traveller)
    flights, sky = await asyncio.gather(search_flights(city), weather(city))
    answer = await client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": f"{liked}; {flights}; {sky}"}]
    )
    return f"{answer.choices[0].message.content} {await geocode(city)}"


async def main(in_flight: int) -> None:
    client = openai.AsyncOpenAI(api_key="local", max_retries=0)
    await client.chat.completions.create(model="warm-up", messages=[{"role": "user", "content": "ready?"}])
    travellers = [f"traveller-{i}" for i in range(2 * in_flight)]
    for start in range(0, len(travellers), in_flight):
        batch = travellers[start : start + in_flight]
        await asyncio.gather(*(planner(client, traveller, "Paris") for traveller in batch))


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 8))
