"""Three agents: enrich a lead from the CRM, score it, draft the outreach."""

from __future__ import annotations

from typing import Any

import openai
from openai.types.chat import ChatCompletionMessageParam

from sales_assistant.client import timed_retries
from sales_assistant.settings import SCORING_MODEL
from sales_assistant.tools import crm_lookup, dedupe


def content(response: Any) -> str:
    return str(response.choices[0].message.content)


class Enricher:
    def __init__(self, client: openai.AsyncOpenAI) -> None:
        self.client = client

    async def enrich(self, company: str) -> str:
        record = await crm_lookup(company)
        response = await self.client.chat.completions.create(
            model="slow-10-enricher-mini", messages=[{"role": "user", "content": f"enrich: {record}"}]
        )
        return content(response)


class Scorer:
    def __init__(self, client: openai.AsyncOpenAI) -> None:
        self.client = client

    async def score(self, profile: str) -> str:
        messages: list[ChatCompletionMessageParam] = [{"role": "user", "content": f"score 1-10: {profile}"}]
        response = await timed_retries(
            lambda: self.client.chat.completions.create(model=SCORING_MODEL, messages=messages)
        )
        return content(response)


class Outreach:
    def __init__(self, client: openai.AsyncOpenAI) -> None:
        self.client = client

    async def draft(self, company: str, score: str) -> str:
        contacts = dedupe([f"cto@{company}.example", f"ceo@{company}.example", f"cto@{company}.example"])
        response = await self.client.chat.completions.create(
            model="slow-15-outreach-writer",
            messages=[{"role": "user", "content": f"email {contacts} at {company}, score {score}"}],
        )
        return content(response)
