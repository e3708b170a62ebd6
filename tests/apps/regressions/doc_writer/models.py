"""Streaming chat through the OpenAI SDK; the app times the draft's first chunk itself."""

from __future__ import annotations

import time
from typing import Any

import openai


async def stream_chat(client: openai.AsyncOpenAI, model: str, prompt: str) -> tuple[str, float, Any]:
    """The streamed answer, the seconds to its first chunk, and its usage."""
    started = time.perf_counter()
    stream = await client.chat.completions.create(
        model=model,
        messages=[{"role": "user", "content": prompt}],
        stream=True,
        stream_options={"include_usage": True},
    )
    parts: list[str] = []
    first_chunk, usage = 0.0, None
    async for chunk in stream:
        if not first_chunk:
            first_chunk = time.perf_counter() - started
        usage = chunk.usage or usage
        parts.append(chunk.choices[0].delta.content or "" if chunk.choices else "")
    return "".join(parts), first_chunk, usage
