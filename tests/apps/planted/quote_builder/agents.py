"""The quoting agent: reads the request with a model, looks the customer up, prices the quote."""

from __future__ import annotations

import openai

from quote_builder.pricing import lookup_customer, price_quote

CLIENT = openai.AsyncOpenAI()


class QuoteAgent:
    async def quote(self, customer: str, request: str) -> str:
        answer = await CLIENT.chat.completions.create(
            model="quote-reader", messages=[{"role": "user", "content": f"List the items asked for: {request}"}]
        )
        items = (answer.choices[0].message.content or "item").split()[:8]
        found = await lookup_customer(customer)
        return await price_quote(items, int(found["tier"]))
