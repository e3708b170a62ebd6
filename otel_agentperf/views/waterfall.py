"""The slowest traces as text waterfalls: one line per span, indented under its parent, with a time bar.

Each line: start offset from the trace's start, duration, self time, the time it waited for an event loop
other code held, the span's name as exported (``invoke_agent SupportAgent``, ``chat gpt-4o-mini``) indented
by depth, and a bar placing the span within the trace. Self time is the span's duration less the union of
its children's (children that overlap, as concurrent tasks do, are not counted twice), so it reads straight
off the tree shown, whichever instrumentation made each span. The wait is the span's own
(``agentperf.event_loop.waited_time``: its callees' waits are on their lines) and ends its bar as ``~``: a
reader sees that part of the span was another operation's doing, not its own (when in the span it waited
is not measured, only how long).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Status

from otel_agentperf.conventions import names
from otel_agentperf.views.rows import ms

BAR_WIDTH = 40
WAIT = "~"  # the part of a bar that the span spent waiting for a loop other code held
MAX_LINES = 100  # spans shown per trace; the rest are counted


@dataclass
class SpanNode:
    """One received span and the spans received under it, children in start order."""

    name: str
    span_id: bytes
    parent_id: bytes
    start: int  # nanoseconds since the epoch
    end: int
    error: bool
    waited: int = 0  # nanoseconds its own time waited for an event loop that other code held
    children: list[SpanNode] = field(default_factory=list)

    @property
    def duration(self) -> int:
        return max(self.end - self.start, 0)

    @property
    def self_time(self) -> int:
        """Duration less the union of the children's intervals, clipped to this span's own."""
        covered, reach = 0, self.start
        for child in sorted(self.children, key=lambda node: node.start):
            begin, finish = max(child.start, reach), min(child.end, self.end)
            if finish > begin:
                covered += finish - begin
                reach = finish
        return max(self.duration - covered, 0)


@dataclass
class Trace:
    """The spans received for one trace id: its roots (spans whose parent never arrived included)."""

    trace_id: bytes
    roots: list[SpanNode]
    span_count: int

    @property
    def start(self) -> int:
        return min(root.start for root in self.roots)

    @property
    def end(self) -> int:
        return max(root.end for root in self.roots)

    @property
    def duration(self) -> int:
        return max(self.end - self.start, 0)


def traces(requests: Iterable[ExportTraceServiceRequest]) -> list[Trace]:
    """Every trace in the requests, with its span tree."""
    by_trace: dict[bytes, dict[bytes, SpanNode]] = {}
    for request in requests:
        for resource_spans in request.resource_spans:
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    node = SpanNode(
                        span.name,
                        span.span_id,
                        span.parent_span_id,
                        span.start_time_unix_nano,
                        span.end_time_unix_nano,
                        span.status.code == Status.STATUS_CODE_ERROR,
                        _waited(span.attributes),
                    )
                    by_trace.setdefault(span.trace_id, {})[span.span_id] = node
    found = []
    for trace_id, nodes in by_trace.items():
        roots: list[SpanNode] = []
        for node in nodes.values():
            parent = nodes.get(node.parent_id) if node.parent_id else None
            (parent.children if parent is not None and parent is not node else roots).append(node)
        for node in nodes.values():
            node.children.sort(key=lambda child: child.start)
        found.append(Trace(trace_id, sorted(roots, key=lambda root: root.start), len(nodes)))
    return found


def _waited(attributes: Iterable[KeyValue]) -> int:
    """The span's own wait for a held event loop, in nanoseconds (0 when it has none)."""
    for attribute in attributes:
        if attribute.key == names.EVENT_LOOP_WAITED_TIME and attribute.value.HasField("double_value"):
            return max(int(attribute.value.double_value * 1e9), 0)
    return 0


def slowest(found: list[Trace], limit: int) -> list[Trace]:
    """The ``limit`` longest traces, longest first."""
    return sorted(found, key=lambda trace: trace.duration, reverse=True)[:limit]


def _bar(node: SpanNode, trace: Trace) -> str:
    scale = BAR_WIDTH / trace.duration if trace.duration else 0.0
    begin = min(int((node.start - trace.start) * scale), BAR_WIDTH - 1)
    length = max(1, round(node.duration * scale))
    waited = min(round(min(node.waited, node.duration) * scale), length)
    return "|" + (" " * begin + "#" * (length - waited) + WAIT * waited)[:BAR_WIDTH].ljust(BAR_WIDTH) + "|"


def render_trace(trace: Trace) -> str:
    """One trace: a heading, then a line per span in tree order."""
    lines: list[tuple[SpanNode, int]] = []
    pending = [(root, 0) for root in reversed(trace.roots)]  # depth first, without recursion's depth limit
    while pending:
        node, depth = pending.pop()
        lines.append((node, depth))
        pending += [(child, depth + 1) for child in reversed(node.children)]
    shown = lines[:MAX_LINES]
    labels = ["  " * depth + node.name + ("  [error]" if node.error else "") for node, depth in shown]
    width = max(len("span"), *(len(label) for label in labels))
    spans = f"{trace.span_count} span{'' if trace.span_count == 1 else 's'}"
    heading = f"trace {trace.trace_id.hex()}  {ms(trace.duration / 1e9)} ms  {spans}"
    columns = f"{'start ms':>10}  {'dur ms':>10}  {'self ms':>10}  {'waited ms':>10}  {'span'.ljust(width)}  bar"
    rendered = [heading, columns]
    for (node, _), label in zip(shown, labels, strict=True):
        waited = ms(node.waited / 1e9) if node.waited else ""
        rendered.append(
            f"{ms((node.start - trace.start) / 1e9):>10}  {ms(node.duration / 1e9):>10}  "
            f"{ms(node.self_time / 1e9):>10}  {waited:>10}  {label.ljust(width)}  {_bar(node, trace)}"
        )
    if len(lines) > MAX_LINES:
        rendered.append(f"... and {len(lines) - MAX_LINES} more spans")
    return "\n".join(rendered)


def render(requests: Iterable[ExportTraceServiceRequest], limit: int) -> str:
    """The ``limit`` slowest traces of the requests, each as a waterfall; a sentence when there are none."""
    found = traces(requests)
    if not found:
        return "No spans were received."
    chosen = slowest(found, limit)
    title = (
        f"Slowest traces ({len(chosen)} of {len(found)}; {WAIT} in a bar: waited for an event loop other code held):"
    )
    return "\n\n".join([title, *(render_trace(trace) for trace in chosen)])
