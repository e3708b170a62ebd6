"""The support desk's tools."""

from __future__ import annotations

import asyncio


async def lookup_faq(topic: str) -> str:
    await asyncio.sleep(0.01)  # the FAQ service
    return f"FAQ entry about {topic}"


def format_reply(text: str) -> str:
    return text.strip().capitalize()
