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

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from otel_agentperf.views import critical_path
from otel_agentperf.views.rows import ms
from otel_agentperf.views.spans import SpanNode, Trace, traces

BAR_WIDTH = 40
WAIT = "~"  # the part of a bar that the span spent waiting for a loop other code held
MAX_LINES = 100  # spans shown per trace; the rest are counted


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
    on_path: dict[int, int] = {}
    for root in trace.roots:
        on_path.update(critical_path.own_on_path(root, ours=False))
    labels = ["  " * depth + node.name + ("  [error]" if node.error else "") for node, depth in shown]
    width = max(len("span"), *(len(label) for label in labels))
    spans = f"{trace.span_count} span{'' if trace.span_count == 1 else 's'}"
    heading = f"trace {trace.trace_id.hex()}  {ms(trace.duration / 1e9)} ms  {spans}"
    columns = (
        f"{'start ms':>10}  {'dur ms':>10}  {'self ms':>10}  {'waited ms':>10}  {'path ms':>10}  "
        f"{'span'.ljust(width)}  bar"
    )
    rendered = [heading, columns]
    for (node, _), label in zip(shown, labels, strict=True):
        waited = ms(node.waited / 1e9) if node.waited else ""
        path = ms(on_path[id(node)] / 1e9) if on_path.get(id(node)) else ""
        rendered.append(
            f"{ms((node.start - trace.start) / 1e9):>10}  {ms(node.duration / 1e9):>10}  "
            f"{ms(node.self_time / 1e9):>10}  {waited:>10}  {path:>10}  {label.ljust(width)}  {_bar(node, trace)}"
        )
    if len(lines) > MAX_LINES:
        rendered.append(f"... and {len(lines) - MAX_LINES} more spans")
    return "\n".join(rendered)


def render(requests: Iterable[ExportTraceServiceRequest], limit: int, seen: int | None = None) -> str:
    """The ``limit`` slowest traces of the requests, each as a waterfall; a sentence when there are none.
    ``seen``: how many traces there were, when the requests hold only some of them (the slowest kept)."""
    found = traces(requests)
    if not found:
        return "No spans were received."
    chosen = slowest(found, limit)
    total = max(seen or 0, len(found))
    title = (
        f"Slowest traces ({len(chosen)} of {total}; {WAIT} in a bar: waited for an event loop other code held; "
        "path ms: the span's own time on the critical path, which decided when its trace could end):"
    )
    return "\n\n".join([title, *(render_trace(trace) for trace in chosen)])
