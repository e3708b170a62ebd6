"""The HTTP requests inside one LLM call: the SDKs retry 429s, 5xx and timeouts without telling the caller.

A rate-limited model otherwise looks like a slow one. Both SDKs (and LiteLLM, and hand-written model
clients) send each attempt through an httpx client's ``send`` (``httpx2`` in the newest OpenAI and
Anthropic SDKs), so ``send`` is hooked on both packages' clients while an LLM instrumentor is on. A
request outside any LLM call passes straight through after one context lookup; one inside is an attempt
of that call, with its status or error (:meth:`LLMInvocation.attempt`).

An attempt sent while its client's pool is full (as many connections as its limit, none free) also
measures how long it waited for a free connection, apart from the server's time: the request carries an
httpcore ``trace`` extension (httpcore's public hook, chained to one the app set), and the first event
its connection gives (``connection.connect_tcp.started`` for a new one,
``http11.send_request_headers.started`` or its HTTP/2 twin for one reused) is the moment the pool handed
it one (:meth:`LLMInvocation.waited_for_connection`). Under ``_QUEUED`` is the client's own work, not a
wait. An attempt sent while the pool has room is left untraced: it cannot queue.
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
_QUEUED = 0.001  # seconds from send to a connection's first event beyond which a request queued for one


class _Handed:
    """The ``trace`` extension of one attempt: notes when the pool handed it a connection (the first event),
    and passes every event on to the app's own extension, when it set one."""

    __slots__ = ("app", "at", "extensions")

    def __init__(self, extensions: dict[str, Any]) -> None:
        self.extensions = extensions
        self.app = extensions.get("trace")
        self.at: float | None = None

    def restore(self) -> None:
        """Give the request back its own extension (a retry that resends it is traced afresh)."""
        if self.app is None:
            self.extensions.pop("trace", None)
        else:
            self.extensions["trace"] = self.app

    def __call__(self, event: str, info: Any) -> Any:
        if self.at is None:
            self.at = perf_counter()
        return self.app(event, info) if self.app is not None else None


class _AsyncHanded(_Handed):
    """The same for an async client, whose pool awaits what the extension returns (a sync one would fail)."""

    __slots__ = ()

    async def __call__(self, event: str, info: Any) -> Any:
        if self.at is None:
            self.at = perf_counter()
        if self.app is not None:
            await self.app(event, info)


def _traced(
    client: Any, args: tuple[Any, ...], kwargs: dict[str, Any], kind: type[_Handed]
) -> tuple[_Handed, int] | None:
    """When the client's pool is full (as many connections as its limit, none free), give the request being
    sent a trace extension of ours (chained to the app's) and return it with the limit; else None: the
    request will not queue (a first call's set-up is not a wait), and is left as it is."""
    limit, connections = _pool(client)
    if limit is None or len(connections) < limit or any(connection.is_available() for connection in connections):
        return None
    request = args[0] if args else kwargs.get("request")
    extensions = getattr(request, "extensions", None)
    if not isinstance(extensions, dict):
        return None
    handed = kind(extensions)
    extensions["trace"] = handed
    return handed, limit


def _pool(client: Any) -> tuple[int | None, list[Any]]:
    """The connection limit of the client's default pool and its connections, when it has httpx's own
    transport (the limit read, never set; ``connections`` is the pool's public list)."""
    pool = getattr(getattr(client, "_transport", None), "_pool", None)
    limit = getattr(pool, "_max_connections", None)
    if not isinstance(limit, int) or not 0 < limit < 1 << 31:
        return None, []
    connections = getattr(pool, "connections", None)
    return (limit, connections) if isinstance(connections, list) else (None, [])


def _traced_safely(
    client: Any, args: tuple[Any, ...], kwargs: dict[str, Any], kind: type[_Handed]
) -> tuple[_Handed, int] | None:
    try:
        return _traced(client, args, kwargs, kind)
    except Exception as exc:
        failures.report("tracing an LLM call's wait for a connection", exc)
        return None


def _waited(invocation: LLMInvocation, started: float, traced: tuple[_Handed, int] | None) -> None:
    if traced is None:
        return
    handed, limit = traced
    try:
        handed.restore()
        if handed.at is not None and handed.at - started >= _QUEUED:
            invocation.waited_for_connection(handed.at - started, limit)
    except Exception as exc:
        failures.report("recording an LLM call's wait for a connection", exc)


def _attempt(invocation: LLMInvocation, started: float, response: Any, error: BaseException | None) -> None:
    try:
        status = getattr(response, "status_code", None)
        invocation.attempt(started, status if isinstance(status, int) else None, error)
    except Exception as exc:
        failures.report("recording an LLM call's HTTP attempt", exc)


def _send(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    invocation = None if inside.on else running_llm()
    if invocation is None:
        return wrapped(*args, **kwargs)
    started = perf_counter()
    traced = _traced_safely(instance, args, kwargs, _Handed)
    try:
        response = wrapped(*args, **kwargs)
    except BaseException as exc:
        _waited(invocation, started, traced)
        _attempt(invocation, started, None, exc)
        raise
    _waited(invocation, started, traced)
    _attempt(invocation, started, response, None)
    return response


async def _send_async(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    invocation = None if inside.on else running_llm()
    if invocation is None:
        return await wrapped(*args, **kwargs)
    started = perf_counter()
    traced = _traced_safely(instance, args, kwargs, _AsyncHanded)
    try:
        response = await wrapped(*args, **kwargs)
    except BaseException as exc:
        _waited(invocation, started, traced)
        _attempt(invocation, started, None, exc)
        raise
    _waited(invocation, started, traced)
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
