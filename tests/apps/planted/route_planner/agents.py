"""The dispatcher: asks a model to word the day's route for the driver. The SDK's client is made on first use
(the team already moved that import out of the start-up path; the solver's is what is left)."""

from __future__ import annotations

import functools
from typing import Any

from route_planner.routing import plan_route


@functools.cache
def _client() -> Any:
    import openai

    return openai.AsyncOpenAI()


class Dispatcher:
    async def dispatch(self, stops: list[str]) -> str:
        route = plan_route(stops)
        answer = await _client().chat.completions.create(
            model="route-writer",
            messages=[{"role": "user", "content": "Word this route for the driver: " + " -> ".join(route)}],
        )
        return answer.choices[0].message.content or ""
