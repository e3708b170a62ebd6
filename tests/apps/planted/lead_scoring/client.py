"""The OpenAI client, with more retries than the default (the scoring model is often rate limited) and an
HTTP hook that times each attempt, so the app can see what the retries cost."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import Any, TypeVar

import httpx
import openai

_attempts: ContextVar[list[float] | None] = ContextVar("attempts", default=None)
RETRY_SECONDS: list[float] = []  # per call: from the first attempt's start to the final attempt's start
T = TypeVar("T")


async def _on_request(request: httpx.Request) -> None:
    attempts = _attempts.get()
    if attempts is not None:
        attempts.append(time.perf_counter())


def make_client() -> openai.AsyncOpenAI:
    http_client = openai.DefaultAsyncHttpxClient(event_hooks={"request": [_on_request]})
    return openai.AsyncOpenAI(max_retries=4, http_client=http_client)


async def timed_retries(call: Callable[[], Awaitable[T]]) -> T:
    """Run one SDK call, adding the time its retries took to RETRY_SECONDS."""
    attempts: list[float] = []
    token = _attempts.set(attempts)
    try:
        return await call()
    finally:
        _attempts.reset(token)
        if attempts:
            RETRY_SECONDS.append(attempts[-1] - attempts[0])


def content(response: Any) -> str:
    return str(response.choices[0].message.content)
