"""A bare ASGI app for ``uvicorn --workers 2`` under ``otel-agentperf run``: each request is one agent
invocation calling one tool, and the answer names the worker's process id."""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from typing import Any

import otel_agentperf as perf


@perf.tool
async def lookup_order(path: str) -> str:
    return f"{os.getpid()}"


@perf.agent
async def support_agent(path: str) -> str:
    return await lookup_order(path)


async def app(
    scope: dict[str, Any], receive: Callable[[], Awaitable[Any]], send: Callable[[Any], Awaitable[None]]
) -> None:
    if scope["type"] != "http":
        return
    body = (await support_agent(scope["path"])).encode()
    await send(
        {"type": "http.response.start", "status": 200, "headers": [(b"content-length", str(len(body)).encode())]}
    )
    await send({"type": "http.response.body", "body": body})
