"""MCP: real servers (tests/apps/mcp_tools_server.py) on stdio and streamable HTTP, instrumented too.

The client side records here; the server process writes its finished spans to a file, so each test
checks both ends of one trace. The SDK's own spans are recorded as well (its tracer is pointed at this
test's provider), to show which spans are ours and that a call has only one.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import mcp.client.stdio
import mcp.shared._otel
import pytest
from mcp import ClientSession, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from opentelemetry.trace import SpanKind, StatusCode

import otel_agentperf
from otel_agentperf.conventions import names
from otel_agentperf.instrumentation.tools.mcp_sessions import MCPInstrumentor
from tests.conftest import Recorded, instrumented_by, trees

SERVER = Path(__file__).resolve().parent / "apps" / "mcp_tools_server.py"
ROOT = SERVER.parent.parent.parent
PROTOCOL = "2025-11-25"


def _env(spans: Path) -> dict[str, str]:
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    return {**os.environ, "PYTHONPATH": path, "AGENTPERF_SPANS_FILE": str(spans)}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Server:
    """One server process per test: its transport, and the spans it finished."""

    def __init__(self, transport: str, spans: Path) -> None:
        self.transport = transport
        self.spans_file = spans
        self.process: subprocess.Popen[bytes] | None = None
        self.url = ""

    def start_http(self) -> None:
        port = _free_port()
        self.url = f"http://127.0.0.1:{port}/mcp"
        self.process = subprocess.Popen(
            [sys.executable, str(SERVER), "http", str(port)],
            env=_env(self.spans_file),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("the MCP test server did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)

    @asynccontextmanager
    async def session(self) -> AsyncIterator[ClientSession]:
        if self.transport == "stdio":
            params = StdioServerParameters(
                command=sys.executable, args=[str(SERVER), "stdio"], env=_env(self.spans_file)
            )
            with open(os.devnull, "w") as quiet:
                # Looked up when called, as an app instrumented before it imports mcp (the launcher) gets it.
                opened = mcp.client.stdio.stdio_client(params, errlog=quiet)
                async with opened as (read, write), ClientSession(read, write) as session:
                    await session.initialize()
                    yield session
        else:
            async with streamable_http_client(self.url) as (read, write), ClientSession(read, write) as session:
                await session.initialize()
                yield session

    def spans(self) -> list[dict[str, Any]]:
        if not self.spans_file.exists():
            return []
        return [json.loads(line) for line in self.spans_file.read_text().splitlines()]


@pytest.fixture(params=["stdio", "http"])
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Server]:
    running = Server(request.param, tmp_path / "server-spans.jsonl")
    if request.param == "http":
        running.start_http()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def sdk_spans(recorded: Recorded, monkeypatch: pytest.MonkeyPatch) -> None:
    """The SDK's own tracer records into this test's provider (as it would under a global one)."""
    monkeypatch.setattr(mcp.shared._otel, "_tracer", recorded.tracer_provider.get_tracer("mcp-python-sdk"))


@pytest.fixture
def instrumented(recorded: Recorded, sdk_spans: None) -> Iterator[Recorded]:
    with instrumented_by(MCPInstrumentor()):
        yield recorded


def _ours(recorded: Recorded) -> list[Any]:
    return [span for span in recorded.spans() if span.instrumentation_scope.name == names.SCOPE_NAME]


async def _session_work(session: ClientSession) -> list[Any]:
    """Everything the host app does; what it gets back is compared with an uninstrumented run."""
    tools = await session.list_tools()
    added = await session.call_tool("add", {"a": 2, "b": 3})
    failed = await session.call_tool("fail", {"reason": "no data"})
    resources = await session.list_resources()
    read = await session.read_resource("notes://today")
    prompts = await session.list_prompts()
    prompt = await session.get_prompt("review", {"topic": "latency"})
    return [
        sorted(tool.name for tool in tools.tools),
        added.model_dump(),
        failed.model_dump(),
        [resource.uri for resource in resources.resources],
        read.model_dump(),
        [item.name for item in prompts.prompts],
        prompt.model_dump(),
    ]


def test_each_request_is_one_client_span_with_mcp_attributes(instrumented: Recorded, server: Server) -> None:
    async def run() -> list[Any]:
        async with server.session() as session:
            return await _session_work(session)

    results = asyncio.run(run())
    assert results[1]["structured_content"] == {"result": 5} and results[2]["is_error"] is True
    ours = _ours(instrumented)
    assert [(span.name, span.kind) for span in ours] == [
        ("tools/list", SpanKind.CLIENT),
        ("execute_tool add", SpanKind.CLIENT),
        ("execute_tool fail", SpanKind.CLIENT),
        ("resources/list", SpanKind.CLIENT),
        ("resources/read", SpanKind.CLIENT),
        ("prompts/list", SpanKind.CLIENT),
        ("prompts/get review", SpanKind.CLIENT),
    ]
    # The SDK's own client span is left only for the requests we do not record (initialize).
    sdk = [span.name for span in instrumented.spans() if span.instrumentation_scope.name == "mcp-python-sdk"]
    assert sdk == ["MCP send initialize"]
    added, failed = ours[1], ours[2]
    if server.transport == "stdio":
        transport: dict[str, Any] = {names.NETWORK_TRANSPORT: names.NETWORK_TRANSPORT_PIPE}
    else:
        host, port = server.url.split("/")[2].split(":")
        transport = {
            names.NETWORK_TRANSPORT: names.NETWORK_TRANSPORT_TCP,
            names.NETWORK_PROTOCOL_NAME: "http",
            names.SERVER_ADDRESS: host,
            names.SERVER_PORT: int(port),
            names.MCP_SESSION_ID: added.attributes.get(names.MCP_SESSION_ID),  # the server's: checked below
        }
    assert dict(added.attributes) | {names.SELF_TIME: 0} == {
        names.OPERATION_KIND: names.KIND_TOOL,
        names.GEN_AI_OPERATION_NAME: names.OP_EXECUTE_TOOL,
        names.GEN_AI_TOOL_NAME: "add",
        names.MCP_METHOD_NAME: names.MCP_TOOLS_CALL,
        names.MCP_PROTOCOL_VERSION: PROTOCOL,
        names.JSONRPC_REQUEST_ID: "3",
        names.SELF_TIME: 0,
        **transport,
    }
    assert all(span.attributes[names.NETWORK_TRANSPORT] == transport[names.NETWORK_TRANSPORT] for span in ours)
    assert added.status.status_code is StatusCode.UNSET
    assert failed.attributes[names.ERROR_TYPE] == names.MCP_TOOL_ERROR
    assert failed.status.status_code is StatusCode.ERROR
    assert ours[4].attributes[names.MCP_RESOURCE_URI] == "notes://today"
    assert ours[6].attributes[names.GEN_AI_PROMPT_NAME] == "review"
    assert ours[0].attributes[names.SEGMENT_NAME] == names.MCP_TOOLS_LIST
    tool_points = instrumented.histogram_points(names.TOOL_DURATION)
    assert sorted(
        (p.attributes[names.GEN_AI_TOOL_NAME], p.attributes.get(names.ERROR_TYPE), p.count) for p in tool_points
    ) == [
        ("add", None, 1),
        ("fail", names.MCP_TOOL_ERROR, 1),
    ]
    methods = {
        p.attributes[names.MCP_METHOD_NAME]: p.count for p in instrumented.histogram_points(names.SEGMENT_DURATION)
    }
    assert methods == {
        method: 1 for method in ("tools/list", "resources/list", "resources/read", "prompts/list", "prompts/get")
    }


def test_the_server_span_is_the_client_span_child_in_one_trace(instrumented: Recorded, server: Server) -> None:
    async def run() -> None:
        async with server.session() as session:
            await session.call_tool("add", {"a": 1, "b": 1})
            await session.call_tool("fail", {"reason": "no data"})

    asyncio.run(run())
    server.stop()  # its spans are written as they finish; stopping makes sure the last one is in
    client = {span.name: span for span in _ours(instrumented)}
    served = [span for span in server.spans() if span["name"].startswith("tools/call")]
    assert [(span["name"], span["kind"], span["scope"]) for span in served] == [
        ("tools/call add", "SERVER", names.SCOPE_NAME),
        ("tools/call fail", "SERVER", names.SCOPE_NAME),
    ]  # ours, and only ours: the SDK's middleware opens none for tools/call
    for span, caller in zip(served, (client["execute_tool add"], client["execute_tool fail"]), strict=True):
        assert span["trace_id"] == f"{caller.context.trace_id:032x}"
        assert span["parent_id"] == f"{caller.context.span_id:016x}"
    add, fail = served[0]["attributes"], served[1]["attributes"]
    assert add[names.GEN_AI_TOOL_NAME] == "add" and add[names.MCP_PROTOCOL_VERSION] == PROTOCOL
    transport = names.NETWORK_TRANSPORT_PIPE if server.transport == "stdio" else names.NETWORK_TRANSPORT_TCP
    assert add[names.NETWORK_TRANSPORT] == transport
    assert (names.MCP_SESSION_ID in add) is (server.transport == "http")  # stdio has no session id
    # Both ends name one session: the id the server gave it, which the client's spans carry too.
    assert client["execute_tool add"].attributes.get(names.MCP_SESSION_ID) == add.get(names.MCP_SESSION_ID)
    assert client["execute_tool add"].attributes[names.NETWORK_TRANSPORT] == transport
    assert fail[names.ERROR_TYPE] == names.MCP_TOOL_ERROR and served[1]["status"] == "ERROR"
    # The SDK still spans the methods we leave to it, under no parent of ours.
    others = {span["name"] for span in server.spans() if span["scope"] == "mcp-python-sdk"}
    assert {"initialize", "notifications/initialized"} <= others


def test_the_host_gets_what_it_gets_uninstrumented(make_recorded: Any, server: Server) -> None:
    async def run() -> list[Any]:
        async with server.session() as session:
            return await _session_work(session)

    make_recorded()
    plain = asyncio.run(run())
    recorded = make_recorded()
    with instrumented_by(MCPInstrumentor()):
        assert asyncio.run(run()) == plain
    assert len(_ours(recorded)) == 7
    assert getattr(ClientSession.call_tool, "__wrapped__", None) is None  # uninstrumented: the original again


def test_a_server_that_dies_mid_call_is_an_error_and_the_same_exception(
    make_recorded: Any, sdk_spans: None, server: Server
) -> None:
    async def run() -> BaseException:
        async with server.session() as session:
            with pytest.raises(MCPError) as raised:
                await session.call_tool("die", {})
            return raised.value

    plain = asyncio.run(run())
    if server.transport == "http":
        server.start_http()  # the first run killed it
    recorded = make_recorded()
    with instrumented_by(MCPInstrumentor()):
        instrumented = asyncio.run(run())
    assert (type(instrumented), instrumented.error.code) == (type(plain), plain.error.code)
    (span,) = [span for span in _ours(recorded) if span.name == "execute_tool die"]
    assert span.attributes[names.ERROR_TYPE] == str(plain.error.code)
    assert span.attributes[names.RPC_RESPONSE_STATUS_CODE] == str(plain.error.code)
    assert span.status.status_code is StatusCode.ERROR
    point = recorded.histogram_point(names.TOOL_DURATION, **{names.GEN_AI_TOOL_NAME: "die"})
    assert point.attributes[names.ERROR_TYPE] == str(plain.error.code)
    assert [span["name"] for span in server.spans() if span["name"].startswith("tools/call")] == []  # died first


def test_inside_an_agent_a_tool_call_is_counted(instrumented: Recorded, server: Server) -> None:
    @otel_agentperf.agent(name="researcher")
    async def research() -> None:
        async with server.session() as session:
            await session.call_tool("add", {"a": 1, "b": 2})

    asyncio.run(research())
    agent = instrumented.span("invoke_agent researcher")
    assert agent.attributes[names.AGENT_TOOL_CALLS] == 1
    tool = instrumented.span("execute_tool add")
    assert tool.parent.span_id == agent.context.span_id
    assert tool.attributes[names.GEN_AI_AGENT_NAME] == "researcher"


def test_the_entry_point_names_the_instrumentor() -> None:
    from importlib.metadata import entry_points

    (entry,) = [ep for ep in entry_points(group="opentelemetry_instrumentor") if ep.name == "otel_agentperf_mcp"]
    assert entry.load() is MCPInstrumentor


def test_in_process_client_and_server_are_one_tree(instrumented: Recorded) -> None:
    """The SDK's high-level ``Client`` over an in-process server: both ends here, one trace per call."""
    from mcp import Client

    from tests.apps.mcp_tools_server import server as tools_server

    async def run() -> Any:
        async with Client(tools_server) as client:
            return await client.call_tool("add", {"a": 4, "b": 5})

    assert asyncio.run(run()).structured_content == {"result": 9}
    ours = _ours(instrumented)
    # The session validates a structured result against the tool's output schema, so it lists the tools
    # (one request of its own, inside the call) after the server answered.
    assert list(trees(ours).values()) == [("execute_tool add", ("tools/call add",), ("tools/list",))]
    served = instrumented.span("tools/call add")
    assert served.kind is SpanKind.SERVER and served.attributes[names.NETWORK_TRANSPORT] == names.NETWORK_TRANSPORT_PIPE
    client_point = instrumented.histogram_point(names.TOOL_DURATION, **{names.NETWORK_TRANSPORT: None})
    assert client_point.count == 1
