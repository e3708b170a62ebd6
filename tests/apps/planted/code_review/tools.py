"""The reviewer's tools."""

from __future__ import annotations

import asyncio


async def fetch_diff(change: int) -> str:
    await asyncio.sleep(0.005)  # the code host's API
    return f"diff --git a/app{change}.py b/app{change}.py\n+def handler(event):\n+    return process(event)\n"


async def run_linter(diff: str) -> list[str]:
    await asyncio.sleep(0.01)  # the linter service
    return [line for line in diff.splitlines() if line.startswith("+def")]
