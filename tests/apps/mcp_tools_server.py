"""A tiny MCP server (the SDK's MCPServer) for tests/test_mcp.py: ``python mcp_tools_server.py stdio|http PORT``.

Instrumented by otel-agentperf when ``AGENTPERF_SPANS_FILE`` is set: every finished span is appended to
that file as one JSON line at once (so a server that dies mid-call has written what it finished). The
SDK's own spans go to the same provider, so the file shows which spans are ours and which the SDK's.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from typing import Any

from mcp.server.mcpserver import MCPServer


def _instrument(path: str) -> None:
    from opentelemetry import trace
    from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult

    import otel_agentperf
    from otel_agentperf.instrumentation.tools.mcp_sessions import MCPInstrumentor

    class JsonLines(SpanExporter):
        def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
            with open(path, "a", encoding="utf-8") as out:
                for span in spans:
                    record = {
                        "name": span.name,
                        "kind": span.kind.name,
                        "scope": span.instrumentation_scope.name if span.instrumentation_scope else "",
                        "trace_id": f"{span.context.trace_id:032x}",
                        "span_id": f"{span.context.span_id:016x}",
                        "parent_id": f"{span.parent.span_id:016x}" if span.parent else None,
                        "attributes": dict(span.attributes or {}),
                        "status": span.status.status_code.name,
                    }
                    out.write(json.dumps(record) + "\n")
            return SpanExportResult.SUCCESS

    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(JsonLines()))
    trace.set_tracer_provider(provider)
    otel_agentperf.configure(provider)
    MCPInstrumentor().instrument()


server = MCPServer("agentperf-tools")


@server.tool()
def add(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b


@server.tool()
def fail(reason: str) -> str:
    """A tool that fails: the server answers with a result that has isError set."""
    raise ValueError(f"cannot: {reason}")


@server.tool()
def die() -> str:
    """The server process ends in the middle of the call."""
    os._exit(3)


@server.resource("notes://today")
def today() -> str:
    """Today's notes."""
    return "the agent is slow because of tool calls"


@server.prompt()
def review(topic: str) -> str:
    """A review prompt."""
    return f"Review {topic}."


def main(argv: list[str]) -> None:
    spans = os.environ.get("AGENTPERF_SPANS_FILE")
    if spans:
        _instrument(spans)
    if argv[0] == "stdio":
        server.run("stdio")
    else:
        run: Any = server.run
        run("streamable-http", host="127.0.0.1", port=int(argv[1]))


if __name__ == "__main__":
    main(sys.argv[1:])
