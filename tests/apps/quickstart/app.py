"""The README quickstart's ``app.py``, as a newcomer writes it: no otel-agentperf code at all.

Run as a script it asks the model three questions through the real OpenAI SDK and exits; served by
``uvicorn app:app`` each request asks one and answers with the worker's process id. The model is the
local server (``OPENAI_BASE_URL``).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from typing import Any

import openai

MODEL = os.environ.get("QUICKSTART_MODEL", "slow-20-quickstart")


async def ask(client: openai.AsyncOpenAI, question: str) -> str:
    response = await client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": question}])
    return response.choices[0].message.content or ""


async def app(
    scope: dict[str, Any], receive: Callable[[], Awaitable[Any]], send: Callable[[Any], Awaitable[None]]
) -> None:
    if scope["type"] != "http":
        return
    async with openai.AsyncOpenAI() as client:
        await ask(client, scope["path"])
    body = str(os.getpid()).encode()
    await send(
        {"type": "http.response.start", "status": 200, "headers": [(b"content-length", str(len(body)).encode())]}
    )
    await send({"type": "http.response.body", "body": body})


async def main() -> None:
    async with openai.AsyncOpenAI() as client:
        for question in ("where is my order?", "can I return it?", "how long does it take?"):
            await ask(client, question)
    print("answered 3 questions")


if __name__ == "__main__":
    asyncio.run(main())
