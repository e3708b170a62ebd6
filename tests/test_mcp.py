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

import mcp.shared._otel
import pytest
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
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
# The MCP conventions' advised boundaries for mcp.client/server.operation.duration (docs/gen-ai/mcp.md).
MCP_BUCKETS = (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 30, 60, 120, 300)


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
        self.port = 0

    def start_http(self) -> None:
        port = self.port = _free_port()
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
                async with stdio_client(params, errlog=quiet) as (read, write), ClientSession(read, write) as session:
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


def _transport(server: Server) -> dict[str, Any]:
    """What the conventions ask a request over this server's transport to carry, spans and metric alike.

    Streamable HTTP on loopback: the endpoint's host and port, over HTTP/1.1 (what the SDK's client and
    the server's uvicorn speak here); stdio: a pipe, and nothing more to say.
    """
    if server.transport == "stdio":
        return {names.NETWORK_TRANSPORT: names.NETWORK_TRANSPORT_PIPE}
    return {
        names.NETWORK_TRANSPORT: names.NETWORK_TRANSPORT_TCP,
        names.NETWORK_PROTOCOL_NAME: "http",
        names.NETWORK_PROTOCOL_VERSION: "1.1",
        names.SERVER_ADDRESS: "127.0.0.1",
        names.SERVER_PORT: server.port,
    }


def test_each_request_is_one_client_span_with_mcp_attributes(instrumented: Recorded, server: Server) -> None:
    async def run() -> list[Any]:
        async with server.session() as session:
            return await _session_work(session)

    results = asyncio.run(run())
    assert results[1]["structured_content"] == {"result": 5} and results[2]["is_error"] is True
    ours = _ours(instrumented)
    assert [(span.name, span.kind) for span in ours] == [
        ("tools/list", SpanKind.CLIENT),
        ("tools/call add", SpanKind.CLIENT),
        ("tools/call fail", SpanKind.CLIENT),
        ("resources/list", SpanKind.CLIENT),
        ("resources/read", SpanKind.CLIENT),
        ("prompts/list", SpanKind.CLIENT),
        ("prompts/get review", SpanKind.CLIENT),
    ]
    # The SDK's own client span is left only for the requests we do not record (initialize).
    sdk = [span.name for span in instrumented.spans() if span.instrumentation_scope.name == "mcp-python-sdk"]
    assert sdk == ["MCP send initialize"]
    added, failed = ours[1], ours[2]
    server.stop()
    (served_add,) = [span for span in server.spans() if span["name"] == "tools/call add"]
    session = {}
    if server.transport == "http":  # the id the server gave the session, as its own span says
        session = {names.MCP_SESSION_ID: served_add["attributes"][names.MCP_SESSION_ID]}
        assert len(session[names.MCP_SESSION_ID]) >= 16
    assert dict(added.attributes) | {names.SELF_TIME: 0} == {
        names.OPERATION_KIND: names.KIND_TOOL,
        names.GEN_AI_OPERATION_NAME: names.OP_EXECUTE_TOOL,
        names.GEN_AI_TOOL_NAME: "add",
        names.MCP_METHOD_NAME: names.MCP_TOOLS_CALL,
        names.MCP_PROTOCOL_VERSION: PROTOCOL,
        names.JSONRPC_REQUEST_ID: "3",
        names.SELF_TIME: 0,
        **_transport(server),
        **session,
    }
    for span in ours:  # every request of the session says the same of its transport
        assert {key: span.attributes.get(key) for key in (*_transport(server), *session)} == {
            **_transport(server),
            **session,
        }
    assert added.status.status_code is StatusCode.UNSET
    assert failed.attributes[names.ERROR_TYPE] == names.MCP_TOOL_ERROR
    assert failed.status.status_code is StatusCode.ERROR
    assert ours[4].attributes[names.MCP_RESOURCE_URI] == "notes://today"
    assert ours[6].attributes[names.GEN_AI_PROMPT_NAME] == "review"
    # Listings, reads and prompts are MCP operations, not segments: no segment name, no segment metric.
    assert [span.attributes[names.OPERATION_KIND] for span in ours] == [
        names.KIND_MCP,
        names.KIND_TOOL,
        names.KIND_TOOL,
        *[names.KIND_MCP] * 4,
    ]
    assert not any(names.SEGMENT_NAME in span.attributes for span in ours)
    assert instrumented.histogram_points(names.SEGMENT_DURATION) == []
    tool_points = instrumented.histogram_points(names.TOOL_DURATION)
    assert sorted(((dict(p.attributes), p.count) for p in tool_points), key=lambda item: len(item[0])) == [
        ({names.GEN_AI_OPERATION_NAME: names.OP_EXECUTE_TOOL, names.GEN_AI_TOOL_NAME: "add"}, 1),
        (
            {
                names.GEN_AI_OPERATION_NAME: names.OP_EXECUTE_TOOL,
                names.GEN_AI_TOOL_NAME: "fail",
                names.ERROR_TYPE: names.MCP_TOOL_ERROR,
            },
            1,
        ),
    ]
    # The MCP conventions' own metric: every request once, with its method, target and transport.
    common = {names.MCP_PROTOCOL_VERSION: PROTOCOL, **_transport(server)}
    tool = {names.GEN_AI_OPERATION_NAME: names.OP_EXECUTE_TOOL, names.MCP_METHOD_NAME: names.MCP_TOOLS_CALL}
    expected = [
        {**common, names.MCP_METHOD_NAME: "tools/list"},
        {**common, **tool, names.GEN_AI_TOOL_NAME: "add"},
        {**common, **tool, names.GEN_AI_TOOL_NAME: "fail", names.ERROR_TYPE: names.MCP_TOOL_ERROR},
        {**common, names.MCP_METHOD_NAME: "resources/list"},
        {**common, names.MCP_METHOD_NAME: "resources/read"},
        {**common, names.MCP_METHOD_NAME: "prompts/list"},
        {**common, names.MCP_METHOD_NAME: "prompts/get", names.GEN_AI_PROMPT_NAME: "review"},
    ]
    points = instrumented.histogram_points("mcp.client.operation.duration")
    key = lambda attributes: sorted(map(str, attributes.items()))  # noqa: E731
    assert sorted((dict(p.attributes) for p in points), key=key) == sorted(expected, key=key)
    assert all(p.count == 1 and tuple(p.explicit_bounds) == MCP_BUCKETS for p in points)
    assert instrumented.metrics()["mcp.client.operation.duration"].unit == "s"
    # The session, entered and left once: its transport, and no error.
    (session_point,) = instrumented.histogram_points("mcp.client.session.duration")
    assert dict(session_point.attributes) == common
    assert session_point.count == 1 and tuple(session_point.explicit_bounds) == MCP_BUCKETS
    assert session_point.sum >= sum(p.sum for p in points)  # every request ran inside it


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
    for span, caller in zip(served, (client["tools/call add"], client["tools/call fail"]), strict=True):
        assert span["trace_id"] == f"{caller.context.trace_id:032x}"
        assert span["parent_id"] == f"{caller.context.span_id:016x}"
    add, fail = served[0]["attributes"], served[1]["attributes"]
    assert add[names.GEN_AI_TOOL_NAME] == "add" and add[names.MCP_PROTOCOL_VERSION] == PROTOCOL
    transport = names.NETWORK_TRANSPORT_PIPE if server.transport == "stdio" else names.NETWORK_TRANSPORT_TCP
    assert add[names.NETWORK_TRANSPORT] == transport
    # A session id is the streamable HTTP transport's (the same on both ends); stdio has none.
    assert add.get(names.MCP_SESSION_ID) == client["tools/call add"].attributes.get(names.MCP_SESSION_ID)
    assert (names.MCP_SESSION_ID in add) is (server.transport == "http")
    http = {names.NETWORK_PROTOCOL_NAME: "http", names.NETWORK_PROTOCOL_VERSION: "1.1"}
    assert {key: add.get(key) for key in http} == (http if server.transport == "http" else dict.fromkeys(http))
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
    # The app caught the call's error inside the session, which it then left normally.
    (session_point,) = recorded.histogram_points("mcp.client.session.duration")
    assert names.ERROR_TYPE not in session_point.attributes
    (span,) = [span for span in _ours(recorded) if span.name == "tools/call die"]
    assert span.attributes[names.ERROR_TYPE] == str(plain.error.code)
    assert span.attributes[names.RPC_RESPONSE_STATUS_CODE] == str(plain.error.code)
    assert span.status.status_code is StatusCode.ERROR
    point = recorded.histogram_point(names.TOOL_DURATION, **{names.GEN_AI_TOOL_NAME: "die"})
    assert point.attributes[names.ERROR_TYPE] == str(plain.error.code)
    point = recorded.histogram_point("mcp.client.operation.duration", **{names.GEN_AI_TOOL_NAME: "die"})
    code = str(plain.error.code)
    assert (point.attributes[names.ERROR_TYPE], point.attributes[names.RPC_RESPONSE_STATUS_CODE]) == (code, code)
    assert [span["name"] for span in server.spans() if span["name"].startswith("tools/call")] == []  # died first


def test_a_session_left_by_an_exception_ended_in_that_error(instrumented: Recorded, server: Server) -> None:
    caught: list[BaseException] = []

    async def run() -> None:
        try:
            async with server.session() as session:
                await session.list_tools()
                raise LookupError("the app gave up")
        except BaseException as exc:  # the LookupError, or the transport's task groups holding it
            caught.append(exc)

    def holds(exc: BaseException) -> bool:
        return isinstance(exc, LookupError) or any(map(holds, getattr(exc, "exceptions", ())))

    asyncio.run(run())
    assert len(caught) == 1 and holds(caught[0])
    (point,) = instrumented.histogram_points("mcp.client.session.duration")
    assert point.attributes[names.ERROR_TYPE] == "LookupError"
    assert point.attributes[names.NETWORK_TRANSPORT] == _transport(server)[names.NETWORK_TRANSPORT]


def test_inside_an_agent_a_tool_call_is_counted(instrumented: Recorded, server: Server) -> None:
    @otel_agentperf.agent(name="researcher")
    async def research() -> None:
        async with server.session() as session:
            await session.call_tool("add", {"a": 1, "b": 2})

    asyncio.run(research())
    agent = instrumented.span("invoke_agent researcher")
    assert agent.attributes[names.AGENT_TOOL_CALLS] == 1
    tool = instrumented.span("tools/call add")
    assert tool.parent.span_id == agent.context.span_id
    assert tool.attributes[names.GEN_AI_AGENT_NAME] == "researcher"


def test_the_report_shows_listings_reads_and_prompts_as_mcp_rows(make_recorded: Any, tmp_path: Path) -> None:
    """Through the Prometheus exporter into report rows: one ``mcp`` row per method (a prompt's by its name),
    the tool calls as tool rows only, and no segment row."""
    from opentelemetry.exporter.prometheus import PrometheusMetricReader
    from opentelemetry.sdk.metrics import MeterProvider
    from prometheus_client import CollectorRegistry, generate_latest

    from otel_agentperf.recording import state
    from otel_agentperf.views import families, scrape

    recorded = make_recorded()
    registry = CollectorRegistry()
    meter_provider = MeterProvider(metric_readers=[PrometheusMetricReader(registry=registry)])
    state.configure(recorded.tracer_provider, meter_provider)
    server = Server("stdio", tmp_path / "server-spans.jsonl")

    async def run() -> None:
        async with server.session() as session:
            await _session_work(session)
            await session.list_tools()
            with pytest.raises(MCPError):  # no such resource: a JSON-RPC error, the request's own
                await session.read_resource("notes://missing")

    try:
        with instrumented_by(MCPInstrumentor()):
            asyncio.run(run())
        text = generate_latest(registry).decode()
    finally:
        meter_provider.shutdown()
    # The package's own-cost rows are not operations: one lands here whenever a sampled operation does.
    rows = [row for row in scrape.parse(text) if row.kind != families.OVERHEAD]
    assert sorted((row.kind, row.name, row.calls) for row in rows if row.calls) == [
        (names.KIND_MCP, "prompts/get/review", 1),
        (names.KIND_MCP, "prompts/list", 1),
        (names.KIND_MCP, "resources/list", 1),
        (names.KIND_MCP, "resources/read", 2),
        (names.KIND_MCP, "tools/list", 2),
        (names.KIND_TOOL, "add", 1),
        (names.KIND_TOOL, "fail", 1),
    ]
    listing = next(row for row in rows if row.name == "tools/list")
    assert listing.self_known and 0 < listing.self_seconds <= listing.total_seconds
    assert [row.errors for row in rows if row.name == "resources/read"] == [1]
    (missing,) = [span for span in recorded.spans() if span.name == "resources/read" and not span.status.is_ok]
    code = missing.attributes[names.RPC_RESPONSE_STATUS_CODE]
    assert missing.attributes[names.ERROR_TYPE] == code and int(code) < 0  # the JSON-RPC code, as asked
    # The MCP metric is the request's own duration: its error code is there, on the failed request's series.
    failed = [line for line in text.splitlines() if line.startswith("mcp_client_operation_duration_seconds_count")]
    assert sum(f'rpc_response_status_code="{code}"' in line and "resources/read" in line for line in failed) == 1


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
    assert list(trees(ours).values()) == [("tools/call add", ("tools/call add",), ("tools/list",))]
    client, served = sorted((span for span in ours if span.name == "tools/call add"), key=lambda span: -span.kind.value)
    assert (client.kind, served.kind) == (SpanKind.CLIENT, SpanKind.SERVER)
    # In-process memory streams: the server's handling is not over HTTP; the client's transport is neither
    # stdio nor HTTP, so nothing is said of it.
    assert served.attributes[names.NETWORK_TRANSPORT] == names.NETWORK_TRANSPORT_PIPE
    assert names.NETWORK_TRANSPORT not in client.attributes
    tool = {names.GEN_AI_OPERATION_NAME: names.OP_EXECUTE_TOOL, names.GEN_AI_TOOL_NAME: "add"}
    served_point = instrumented.histogram_point("mcp.server.operation.duration")
    version = client.attributes[names.MCP_PROTOCOL_VERSION]  # the in-process Client negotiates its own
    assert served.attributes[names.MCP_PROTOCOL_VERSION] == version
    assert dict(served_point.attributes) == {
        **tool,
        names.MCP_METHOD_NAME: names.MCP_TOOLS_CALL,
        names.MCP_PROTOCOL_VERSION: version,
        names.NETWORK_TRANSPORT: names.NETWORK_TRANSPORT_PIPE,
    }
    assert served_point.count == 1 and tuple(served_point.explicit_bounds) == MCP_BUCKETS
    client_point = instrumented.histogram_point("mcp.client.operation.duration", **{names.GEN_AI_TOOL_NAME: "add"})
    assert client_point.count == 1 and names.NETWORK_TRANSPORT not in client_point.attributes
    # Both ends ran the tool operation in this one process: the GenAI tool metric has both.
    assert instrumented.histogram_point(names.TOOL_DURATION, **tool).count == 2
