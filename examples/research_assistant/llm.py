"""A stand-in model client with realistic, repeatable latency (no network, no SDK).

The LLM instrumentation issue replaces this with real SDK calls to a local OpenAI-compatible server.
"""

from __future__ import annotations

import asyncio
import hashlib


class ModelClient:
    def __init__(self, model: str) -> None:
        self.model = model

    async def complete(self, prompt: str) -> str:
        digest = hashlib.sha256(prompt.encode()).digest()
        await asyncio.sleep(0.02 + digest[0] / 255 * 0.18)  # 20-200 ms, fixed per prompt
        return f"[{self.model}] notes on: {prompt[:40]}"
