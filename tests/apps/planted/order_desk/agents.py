"""A support agent that checks an order, then checks it again before each step (a looping agent)."""

from __future__ import annotations

import openai

from order_desk.tools import carrier_status, format_reply, lookup_order


class OrderAgent:
    def __init__(self, client: openai.AsyncOpenAI) -> None:
        self.client = client

    async def answer(self, request: int, order_id: str, question: str) -> str:
        order = await lookup_order(request, order_id)
        tracking = await carrier_status(f"TRK{order_id}")
        order = await lookup_order(request, order_id)  # "make sure it is still current"
        response = await self.client.chat.completions.create(
            model="slow-10-support-answerer",
            messages=[{"role": "user", "content": f"{question} {order} {tracking}"}],
        )
        order = await lookup_order(request, order_id)  # and once more before replying
        return format_reply([str(response.choices[0].message.content), order["status"]])
