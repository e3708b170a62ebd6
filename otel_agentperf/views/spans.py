"""Received spans as trees: one per trace, each span with its children, for the waterfalls and the critical path.

Spans are read from the OTLP trace requests ``run`` received (or a saved run). A span whose parent never
arrived is a root of its trace.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from otel_agentperf.conventions import names


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
    # otel-agentperf's operations only (another instrumentation's spans are none): its kind, and its name as a
    # report row names it (``critical_path`` names the operations on a path this way).
    kind: str = ""
    label: str = ""
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
    # The resource that sent its first root, as sorted (key, text) pairs: the process, as far as spans tell
    # (processes with the same resource cannot be told apart).
    resource: tuple[tuple[str, str], ...] = ()

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
    sent_by: dict[int, tuple[tuple[str, str], ...]] = {}  # id() of a node -> its resource
    for request in requests:
        for resource_spans in request.resource_spans:
            resource = tuple(sorted((each.key, _text(each.value)) for each in resource_spans.resource.attributes))
            for scope_spans in resource_spans.scope_spans:
                ours = scope_spans.scope.name == names.SCOPE_NAME
                for span in scope_spans.spans:
                    if ours and _cold_start_import(span):
                        continue
                    node = SpanNode(
                        span.name,
                        span.span_id,
                        span.parent_span_id,
                        span.start_time_unix_nano,
                        span.end_time_unix_nano,
                        span.status.code == Status.STATUS_CODE_ERROR,
                        *_read(span.attributes, ours),
                    )
                    by_trace.setdefault(span.trace_id, {})[span.span_id] = node
                    sent_by[id(node)] = resource
    found = []
    for trace_id, nodes in by_trace.items():
        roots: list[SpanNode] = []
        for node in nodes.values():
            parent = nodes.get(node.parent_id) if node.parent_id else None
            (parent.children if parent is not None and parent is not node else roots).append(node)
        for node in nodes.values():
            node.children.sort(key=lambda child: child.start)
        roots.sort(key=lambda root: root.start)
        found.append(Trace(trace_id, roots, len(nodes), sent_by[id(roots[0])] if roots else ()))
    return found


def _cold_start_import(span: Span) -> bool:
    """One of the cold start's import spans (``recording/imports.py``): a timeline of start-up for a trace
    backend, not a request, so the traces read here leave them out."""
    return span.name == names.IMPORTS_SPAN or (
        span.name.startswith("import ") and any(each.key == names.IMPORT_MODULE for each in span.attributes)
    )


def _read(attributes: Iterable[KeyValue], ours: bool) -> tuple[int, str, str]:
    """The span's own wait for a held event loop in nanoseconds (0 when it has none); for an otel-agentperf
    span (``ours``), its operation kind and its row name."""
    found = {attribute.key: attribute.value for attribute in attributes}
    waited = found.get(names.EVENT_LOOP_WAITED_TIME)
    known = waited is not None and waited.HasField("double_value")
    nanoseconds = max(int(waited.double_value * 1e9), 0) if waited is not None and known else 0
    kind = found[names.OPERATION_KIND].string_value if ours and names.OPERATION_KIND in found else ""
    parts = [_text(found[key]) if key in found else "" for key in names.NAMING_ATTRIBUTES.get(kind, ())]
    return nanoseconds, kind, names.row_name(parts) if kind else ""


def _text(value: AnyValue) -> str:
    """An attribute's value as the metrics' attribute would be written (``str()`` of it)."""
    which = value.WhichOneof("value")
    if which is None or which in ("array_value", "kvlist_value", "bytes_value"):
        return ""
    found = getattr(value, which)
    return str(found)
