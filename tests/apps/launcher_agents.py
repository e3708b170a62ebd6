"""Agent code of the launcher test app, in an importable module as targets require."""

from __future__ import annotations

import asyncio
import time


class Coach:
    def process_message(self, text: str) -> str:
        time.sleep(0.15)
        return text.upper()

    async def reflect(self, text: str) -> str:
        await asyncio.sleep(0.01)
        return text[::-1]


def lookup(term: str) -> str:
    return term * 2
