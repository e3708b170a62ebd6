"""Received spans handed on a whole trace at a time, as each trace finishes, in memory bounded by what is in flight.

``compare`` needs every request's latency and every operation's callers, but not every trace at once: read
through this, a saved run of any size costs the memory of the traces in flight, not of the run.

A trace is pending until its root arrives (a span without a parent: in one process it ends after its
children, so its batch is the last of its trace there), as ``trace_keeper`` holds it. It then waits in a
grace window of ``GRACE_SPANS`` spans, where spans of it that arrive late (another process's batch) still join
it, and is handed on when the window overflows or the input ends. Beyond ``PENDING_SPANS`` pending spans, the
trace pending the longest is moved to the window as it stands (a trace whose root never arrives: its process
did not export to us). A span arriving after its trace was handed on is dropped and counted
(``dropped_spans``); the ids of recently handed-on traces are remembered, a bounded number of them, so such
a span does not start a trace of its own.
"""

from __future__ import annotations

from collections import OrderedDict, deque

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import InstrumentationScope
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from otel_agentperf.receiving.trace_keeper import hold_each, rebuilt

PENDING_SPANS = 50_000
GRACE_SPANS = 20_000
_RECENT = 10_000  # handed-on trace ids remembered

_Spans = list[tuple[bytes, bytes, bytes]]  # (resource key, scope key, serialized span)


class FinishedTraces:
    """:meth:`add` a request, get back the traces it finished (beyond the grace window); :meth:`close` at the
    end for the rest. Each trace comes as one request, its spans grouped by resource and scope."""

    def __init__(self) -> None:
        self._resources: dict[bytes, Resource] = {}
        self._scopes: dict[bytes, InstrumentationScope] = {}
        self._pending: OrderedDict[bytes, _Spans] = OrderedDict()
        self._grace: OrderedDict[bytes, _Spans] = OrderedDict()
        self._pending_spans = 0
        self._grace_spans = 0
        self._recent: deque[bytes] = deque(maxlen=_RECENT)
        self._recent_set: set[bytes] = set()
        self.spans = 0  # every span received
        self.dropped_spans = 0  # arrived after their trace was handed on

    @property
    def held_spans(self) -> int:
        """Spans held now, pending and in the window: what the memory grows with."""
        return self._pending_spans + self._grace_spans

    def add(self, request: ExportTraceServiceRequest) -> list[ExportTraceServiceRequest]:
        spans, rooted = hold_each(request, self._resources, self._scopes, self._hold)
        self.spans += spans
        for trace_id in rooted:
            self._to_grace(trace_id)
        while self._pending_spans > PENDING_SPANS:
            self._to_grace(next(iter(self._pending)))
        found = []
        while self._grace_spans > GRACE_SPANS:
            found.append(self._hand_on())
        return found

    def close(self) -> list[ExportTraceServiceRequest]:
        """Every trace still held, pending ones included (the input ended before their roots arrived)."""
        for trace_id in list(self._pending):
            self._to_grace(trace_id)
        return [self._hand_on() for _ in range(len(self._grace))]

    def _hold(self, resource_key: bytes, scope_key: bytes, span: Span) -> bool:
        trace_id = span.trace_id
        entry = (resource_key, scope_key, span.SerializeToString())
        if (held := self._grace.get(trace_id)) is not None:
            held.append(entry)
            self._grace_spans += 1
            return False  # already finished: a second root does not finish it again
        if trace_id in self._recent_set:
            self.dropped_spans += 1
            return False
        self._pending.setdefault(trace_id, []).append(entry)
        self._pending_spans += 1
        return True

    def _to_grace(self, trace_id: bytes) -> None:
        spans = self._pending.pop(trace_id, None)
        if spans is None:
            return
        self._pending_spans -= len(spans)
        self._grace[trace_id] = spans
        self._grace_spans += len(spans)

    def _hand_on(self) -> ExportTraceServiceRequest:
        trace_id, spans = self._grace.popitem(last=False)
        self._grace_spans -= len(spans)
        if len(self._recent) == _RECENT:
            self._recent_set.discard(self._recent[0])
        self._recent.append(trace_id)
        self._recent_set.add(trace_id)
        return rebuilt(spans, self._resources, self._scopes)
