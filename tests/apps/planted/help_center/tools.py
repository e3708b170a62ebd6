"""The help center's tools: two lookups against services (awaited), and a small formatter."""

from __future__ import annotations

import asyncio


async def lookup_faq(topic: str) -> str:
    await asyncio.sleep(0.01)  # the FAQ service
    return f"FAQ entry about {topic}"


async def lookup_account(customer: str) -> str:
    await asyncio.sleep(0.012)  # the accounts service
    return f"account of {customer}: in good standing"


def format_reply(text: str) -> str:
    return text.strip().capitalize()
