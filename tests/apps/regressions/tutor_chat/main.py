"""The tutoring service: every request is one lesson of several exercises."""

from __future__ import annotations

import openai
from appkit import serve

from tutor_chat.lesson import run_lesson

TOPICS = ["fractions", "geometry", "algebra"]


def main() -> None:
    client = openai.AsyncOpenAI(max_retries=2)

    async def handle(index: int) -> None:
        await run_lesson(client, TOPICS[index % len(TOPICS)])

    async def warm_up() -> None:  # a readiness check before taking requests
        await client.chat.completions.create(model="health-check-mini", messages=[{"role": "user", "content": "ping"}])

    serve(handle, warm_up)


if __name__ == "__main__":
    main()
