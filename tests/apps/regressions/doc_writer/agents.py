"""The doc writer's agents: outline (small model), draft (the big model, streamed), follow-ups."""

from __future__ import annotations

import openai
from appkit import charge, charge_usage

from doc_writer.models import stream_chat
from doc_writer.settings import DRAFT_PRICES, MODELS
from doc_writer.tools import cite, find_sources


class Outliner:
    def __init__(self, client: openai.AsyncOpenAI) -> None:
        self.client = client

    async def outline(self, topic: str) -> str:
        response = await self.client.chat.completions.create(
            model=MODELS["outline"], messages=[{"role": "user", "content": f"outline a page on {topic}"}]
        )
        return str(response.choices[0].message.content)


class Drafter:
    def __init__(self, client: openai.AsyncOpenAI) -> None:
        self.client = client

    async def draft(self, topic: str, outline: str) -> str:
        sources = await find_sources(topic)
        text, first_chunk, usage = await stream_chat(self.client, MODELS["draft"], f"{outline} {cite(sources)}")
        charge(seconds=first_chunk)  # the app's own bookkeeping: how long readers wait for the first words
        charge_usage(usage, DRAFT_PRICES)
        return text

    async def followups(self, page: str) -> str:
        text, _, _ = await stream_chat(self.client, MODELS["followups"], f"follow-up questions for: {page}")
        return text
