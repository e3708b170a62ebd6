"""What an MCP session's transport tells: a streamable HTTP transport's endpoint, session id and HTTP
version, or a stdio transport's pipe; noted from the transports' own methods, read per request."""

from __future__ import annotations

import functools
import weakref
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any
from urllib.parse import urlsplit

from opentelemetry.util.types import AttributeValue

from otel_agentperf.conventions import names
from otel_agentperf.runtime import failures

# Streamable HTTP transports (weakly) by the id of the write stream their session sends on (the stream keeps
# no weak references); an entry goes with its transport. And the HTTP version of each one's last response.
_HTTP: dict[int, weakref.ref[Any]] = {}
_HTTP_VERSIONS: weakref.WeakKeyDictionary[Any, str] = weakref.WeakKeyDictionary()
# How many stdio transports are open in this context: a session asking while one is, talks over its pipe.
_STDIO: ContextVar[int] = ContextVar("otel_agentperf_mcp_stdio", default=0)
_DEFAULT_PORTS = {"http": 80, "https": 443}


@functools.lru_cache(maxsize=64)
def _server(endpoint: str) -> dict[str, AttributeValue]:
    """``server.address`` and ``server.port`` of an endpoint URL, parsed once per endpoint."""
    url = urlsplit(endpoint)
    if not url.hostname:
        return {}
    port = url.port or _DEFAULT_PORTS.get(url.scheme)
    return {names.SERVER_ADDRESS: url.hostname, **({names.SERVER_PORT: port} if port is not None else {})}


def transport_attributes(session: Any) -> tuple[dict[str, AttributeValue], dict[str, AttributeValue]]:
    """What a ClientSession's transport tells: (span-only attributes, attributes of spans and the MCP metric)."""
    stream = getattr(getattr(session, "_dispatcher", None), "_write_stream", None)
    noted = _HTTP.get(id(stream)) if stream is not None else None
    transport = noted() if noted is not None else None
    if transport is None:
        return {}, ({names.NETWORK_TRANSPORT: names.NETWORK_TRANSPORT_PIPE} if _STDIO.get() > 0 else {})
    measured: dict[str, AttributeValue] = {
        names.NETWORK_TRANSPORT: names.NETWORK_TRANSPORT_TCP,
        names.NETWORK_PROTOCOL_NAME: names.NETWORK_PROTOCOL_HTTP,
    }
    version = _HTTP_VERSIONS.get(transport)
    if version:
        measured[names.NETWORK_PROTOCOL_VERSION] = version
    measured.update(_server(str(getattr(transport, "url", ""))))
    session_id = getattr(transport, "session_id", None)
    return ({names.MCP_SESSION_ID: session_id} if isinstance(session_id, str) else {}), measured


def _forget(key: int, noted: weakref.ref[Any]) -> None:
    """A transport went: its entry goes, unless a newer stream took the same id (and the entry) since."""
    if _HTTP.get(key) is noted:
        del _HTTP[key]


def post_writer_hook(wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """``StreamableHTTPTransport.post_writer(client, reader, read_writer, write_stream, ...)``: the session's
    write stream is this transport's, so its requests are known to go over HTTP to this endpoint."""
    try:
        stream = kwargs.get("write_stream", args[3] if len(args) > 3 else None)
        if stream is not None:
            key, noted = id(stream), weakref.ref(instance)
            _HTTP[key] = noted
            weakref.finalize(instance, _forget, key, noted)
    except Exception as exc:
        failures.report("noting an MCP HTTP transport", exc)
    return wrapped(*args, **kwargs)


def response_hook(wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """Each response the transport reads its session id from: the HTTP version it came over."""
    try:
        version = str(getattr(args[0] if args else kwargs.get("response"), "http_version", ""))
        if version.startswith("HTTP/"):
            _HTTP_VERSIONS[instance] = version.removeprefix("HTTP/")
    except Exception as exc:
        failures.report("reading an MCP HTTP response's version", exc)
    return wrapped(*args, **kwargs)


async def _spawned(wrapped: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    process = await wrapped(*args, **kwargs)
    _STDIO.set(_STDIO.get() + 1)  # awaited by stdio_client in its caller's context: the caller's sessions see it
    return process


async def _stopped(wrapped: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    _STDIO.set(max(_STDIO.get() - 1, 0))
    return await wrapped(*args, **kwargs)


def spawn_hook(wrapped: Callable[..., Any], _instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """``_create_platform_compatible_process``: a stdio transport opens in this context."""
    return _spawned(wrapped, args, kwargs)


def stop_hook(wrapped: Callable[..., Any], _instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """``_stop_server_process``: the stdio transport of this context closes."""
    return _stopped(wrapped, args, kwargs)
