"""The researchers (web: an OpenAI model; papers: a Claude model) and the writer of the brief."""

from __future__ import annotations

import anthropic
import openai


class WebResearcher:
    def __init__(self, client: openai.AsyncOpenAI) -> None:
        self.client = client

    async def search(self, queries: list[str]) -> str:
        response = await self.client.chat.completions.create(
            model="slow-250-web-researcher", messages=[{"role": "user", "content": f"search the web: {queries}"}]
        )
        return str(response.choices[0].message.content)


class PaperResearcher:
    def __init__(self, client: anthropic.AsyncAnthropic) -> None:
        self.client = client

    async def search(self, queries: list[str]) -> str:
        message = await self.client.messages.create(
            model="slow-300-claude-papers",
            max_tokens=256,
            messages=[{"role": "user", "content": f"find papers on: {queries}"}],
        )
        return "".join(block.text for block in message.content if block.type == "text")


class BriefWriter:
    def __init__(self, client: openai.AsyncOpenAI) -> None:
        self.client = client

    async def summarize(self, web: str, papers: str) -> str:
        response = await self.client.chat.completions.create(
            model="slow-20-brief-writer", messages=[{"role": "user", "content": f"summarize: {web} {papers}"}]
        )
        return str(response.choices[0].message.content)
