"""A small async agent app for the CI gate's tests: ``gate_app.py [REQUESTS]``.

Each request is one ``trip_planner`` agent run: the ``search_flights`` tool (a 10 ms await) and one chat
call through the real OpenAI SDK to the local server (``OPENAI_BASE_URL``), model ``GATE_MODEL``
(``gpt-4o-mini`` by default, which the packaged price table prices). Requests run one after another.
"""

from __future__ import annotations

import asyncio
import os
import sys

import openai

import otel_agentperf as perf

MODEL = os.environ.get("GATE_MODEL", "gpt-4o-mini")


@perf.tool
async def search_flights(city: str) -> str:
    await asyncio.sleep(0.01)
    return f"3 flights to {city}"


@perf.agent
async def trip_planner(client: openai.AsyncOpenAI, city: str) -> str:
    flights = await search_flights(city)
    response = await client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": f"Plan a trip to {city}: {flights}"}]
    )
    return response.choices[0].message.content or ""


async def main(requests: int) -> None:
    async with openai.AsyncOpenAI() as client:
        for number in range(requests):
            await trip_planner(client, f"city {number}")
    print(f"planned {requests} trips")


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 4))
