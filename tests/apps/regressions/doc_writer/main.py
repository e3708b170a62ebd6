"""The doc writer: every request writes one page."""

from __future__ import annotations

import openai
from appkit import serve

from doc_writer.agents import Drafter, Outliner
from doc_writer.models import stream_chat
from doc_writer.pages import write_page

TOPICS = ["caching", "retries", "pagination", "webhooks"]


def main() -> None:
    client = openai.AsyncOpenAI(max_retries=2)
    outliner, drafter = Outliner(client), Drafter(client)

    async def handle(index: int) -> None:
        await write_page(outliner, drafter, TOPICS[index % len(TOPICS)])

    async def warm_up() -> None:  # a readiness check before taking requests: both ways the app calls models
        await client.chat.completions.create(model="health-check-mini", messages=[{"role": "user", "content": "ping"}])
        await stream_chat(client, "health-check-mini", "ping")

    serve(handle, warm_up)


if __name__ == "__main__":
    main()
