"""The HTTP requests inside one LLM call: the SDKs retry 429s, 5xx and timeouts without telling the caller.

A rate-limited model otherwise looks like a slow one. Both SDKs (and LiteLLM, and hand-written model
clients) send each attempt through an httpx client's ``send`` (``httpx2`` in the newest OpenAI and
Anthropic SDKs), so ``send`` is hooked on both packages' clients while an LLM instrumentor is on. A
request outside any LLM call passes straight through after one context lookup; one inside is an attempt
of that call, with its status or error (:meth:`LLMInvocation.attempt`).
"""

from __future__ import annotations

import inspect
from time import perf_counter
from types import ModuleType
from typing import Any, ClassVar

import wrapt

from otel_agentperf.recording.invocations import LLMInvocation
from otel_agentperf.recording.telemetry import running_llm
from otel_agentperf.runtime import failures, forksafe
from otel_agentperf.runtime.reentry import inside
from otel_agentperf.wrapping.library import LibraryInstrumentor

CLIENT_MODULES = ("httpx", "httpx2")


def _attempt(invocation: LLMInvocation, started: float, response: Any, error: BaseException | None) -> None:
    try:
        status = getattr(response, "status_code", None)
        invocation.attempt(started, status if isinstance(status, int) else None, error)
    except Exception as exc:
        failures.report("recording an LLM call's HTTP attempt", exc)


def _send(wrapped: Any, _instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    invocation = None if inside.on else running_llm()
    if invocation is None:
        return wrapped(*args, **kwargs)
    started = perf_counter()
    try:
        response = wrapped(*args, **kwargs)
    except BaseException as exc:
        _attempt(invocation, started, None, exc)
        raise
    _attempt(invocation, started, response, None)
    return response


async def _send_async(wrapped: Any, _instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    invocation = None if inside.on else running_llm()
    if invocation is None:
        return await wrapped(*args, **kwargs)
    started = perf_counter()
    try:
        response = await wrapped(*args, **kwargs)
    except BaseException as exc:
        _attempt(invocation, started, None, exc)
        raise
    _attempt(invocation, started, response, None)
    return response


def _hooked(original: Any) -> Any:
    return wrapt.FunctionWrapper(original, _send_async if inspect.iscoroutinefunction(original) else _send)


class HttpAttempts(LibraryInstrumentor):
    """Hooks ``send`` of httpx's and httpx2's clients while at least one LLM instrumentor uses it.

    Not an entry point of its own: the LLM instrumentors share it (the instrumentor is a singleton), and
    the last one switched off switches it off.
    """

    module = "httpx"
    requirement = None
    _users: ClassVar[int] = 0
    _users_lock: ClassVar[Any] = forksafe.lock()

    def hooks(self) -> list[tuple[str, Any]]:
        return [(module, self.patch) for module in CLIENT_MODULES]

    def patch(self, module: ModuleType) -> None:
        for name in ("Client", "AsyncClient"):
            client = getattr(module, name, None)
            if isinstance(client, type):
                self.replace(client, "send", _hooked)

    @classmethod
    def acquire(cls) -> None:
        with cls._users_lock:
            cls._users += 1
            first = cls._users == 1
        if first:
            cls().instrument()

    @classmethod
    def release(cls) -> None:
        with cls._users_lock:
            cls._users = max(cls._users - 1, 0)
            last = cls._users == 0
        if last:
            cls().uninstrument()
