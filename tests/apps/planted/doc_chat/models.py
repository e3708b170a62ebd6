"""Streaming chat through the OpenAI SDK, timed by the app: time to first chunk and to the end."""

from __future__ import annotations

import time

import openai


class StreamTimings:
    def __init__(self) -> None:
        self.first_chunk: list[float] = []
        self.total: list[float] = []


async def stream_chat(client: openai.AsyncOpenAI, model: str, prompt: str, timings: StreamTimings | None = None) -> str:
    started = time.perf_counter()
    stream = await client.chat.completions.create(
        model=model,
        messages=[{"role": "user", "content": prompt}],
        stream=True,
        stream_options={"include_usage": True},
    )
    parts: list[str] = []
    async for chunk in stream:
        if timings is not None and not parts:
            timings.first_chunk.append(time.perf_counter() - started)
        parts.append(chunk.choices[0].delta.content or "" if chunk.choices else "")
    if timings is not None:
        timings.total.append(time.perf_counter() - started)
    return "".join(parts)
