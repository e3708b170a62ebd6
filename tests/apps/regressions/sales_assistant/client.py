"""The OpenAI client, with more retries than the default (the provider throttles) and an HTTP hook that
times each attempt, so the app sees what retries cost a request."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import TypeVar

import httpx
import openai
from appkit import charge

_attempts: ContextVar[list[float] | None] = ContextVar("attempts", default=None)
T = TypeVar("T")


async def _on_request(request: httpx.Request) -> None:
    attempts = _attempts.get()
    if attempts is not None:
        attempts.append(time.perf_counter())


def make_client() -> openai.AsyncOpenAI:
    http_client = openai.DefaultAsyncHttpxClient(event_hooks={"request": [_on_request]})
    return openai.AsyncOpenAI(max_retries=4, http_client=http_client)


async def timed_retries(call: Callable[[], Awaitable[T]]) -> T:
    """Run one SDK call, charging the request what its retries took: from the first attempt's start to the
    final attempt's start (the 429 answers and the SDK's backoff)."""
    attempts: list[float] = []
    token = _attempts.set(attempts)
    try:
        return await call()
    finally:
        _attempts.reset(token)
        if attempts:
            charge(seconds=attempts[-1] - attempts[0])
