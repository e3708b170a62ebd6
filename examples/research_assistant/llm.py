"""The model client: the real OpenAI SDK, talking to whatever ``OPENAI_BASE_URL`` points at.

``run_demo.py`` starts the local OpenAI-compatible server (``examples/local_llm.py``) and points the app
at it, so the demo runs offline; the model name in ``settings.toml`` picks the server's latency.
"""

from __future__ import annotations

import openai


class ModelClient:
    def __init__(self, model: str, max_retries: int = 2) -> None:
        self.model = model
        self.client = openai.AsyncOpenAI(max_retries=max_retries)

    async def complete(self, prompt: str) -> str:
        response = await self.client.chat.completions.create(
            model=self.model, messages=[{"role": "user", "content": prompt}]
        )
        return str(response.choices[0].message.content)

    async def stream(self, prompt: str) -> str:
        stream = await self.client.chat.completions.create(
            model=self.model,
            messages=[{"role": "user", "content": prompt}],
            stream=True,
            stream_options={"include_usage": True},
        )
        parts = [chunk.choices[0].delta.content or "" async for chunk in stream if chunk.choices]
        return "".join(parts)
