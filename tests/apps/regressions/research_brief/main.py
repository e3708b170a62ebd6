"""The research assistant: every request writes one brief."""

from __future__ import annotations

import anthropic
import openai
from appkit import serve

from research_brief.agents import BriefWriter, PaperResearcher, WebResearcher
from research_brief.brief import write_brief

TOPICS = ["vector databases", "speculative decoding", "prompt caching"]


def main() -> None:
    openai_client, claude = openai.AsyncOpenAI(max_retries=2), anthropic.AsyncAnthropic(max_retries=2)
    web, papers, writer = WebResearcher(openai_client), PaperResearcher(claude), BriefWriter(openai_client)

    async def handle(index: int) -> None:
        await write_brief(web, papers, writer, TOPICS[index % len(TOPICS)])

    async def warm_up() -> None:  # a readiness check before taking requests: both providers
        await openai_client.chat.completions.create(
            model="health-check-mini", messages=[{"role": "user", "content": "ping"}]
        )
        await claude.messages.create(
            model="health-check-claude", max_tokens=8, messages=[{"role": "user", "content": "ping"}]
        )

    serve(handle, warm_up)


if __name__ == "__main__":
    main()
