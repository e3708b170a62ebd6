"""Received spans in bounded memory: the slowest traces, a sample of the rest, the hinted ones, those in flight.

Spans arrive in export batches as they end, a trace's spans possibly in several batches (and processes). A
trace is held as *pending* until its root arrives (a span without a parent: in one process it ends after
its children, so its batch is the last of its trace there). It is then *finished*: ranked by its duration
(its latest end less its earliest start) among the ``slowest`` kept so far, offered to a reservoir of
``sample`` traces (Algorithm R: every finished trace equally likely to be in it), and, when its root
carries keep hints (``agentperf.keep``: it failed, retried, held the loop...), kept among the ``HINTED``
latest such traces, as a Collector's tail sampling would keep it. A finished trace in none is dropped; a
span arriving after its trace finished joins it when it is kept, and is dropped otherwise (the ids of
recently finished traces are remembered, a bounded number of them).

What bounds memory while traces are in flight: at most ``PENDING_SPANS`` spans are pending; beyond, the
trace pending the longest is finished as it stands (a trace whose root is in a process that did not
export to us never gets its root: it is finished this way, or when the run ends). A trace keeps at most
``SPANS_PER_TRACE`` spans. Spans are held serialized (a few hundred bytes each), not as decoded messages,
whose arena would keep their whole request alive.

Nothing dropped here changes a reported count: the report's counts come from metrics, which the SDK
records for every operation whether its span is sampled, kept or dropped.
"""

from __future__ import annotations

import heapq
import random
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import InstrumentationScope
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from otel_agentperf.conventions import names

PENDING_SPANS = 50_000
HINTED = 64  # the latest traces whose root carries keep hints
SPANS_PER_TRACE = 10_000
_RECENT = 10_000  # finished trace ids remembered, so their late spans are not held as a new pending trace


@dataclass
class _Held:
    """One trace's spans as (resource key, scope key, serialized span), and the interval they cover."""

    start: int
    end: int
    spans: list[tuple[bytes, bytes, bytes]] = field(default_factory=list)
    hinted: bool = False  # its root carries keep hints

    @property
    def duration(self) -> int:
        return max(self.end - self.start, 0)


class TraceKeeper:
    """The ``slowest`` slowest finished traces, a reservoir of ``sample`` others, the latest hinted ones, and
    the pending ones."""

    def __init__(self, slowest: int, sample: int, seed: int = 0) -> None:
        self._slowest_wanted = slowest
        self._sample_wanted = sample
        self._random = random.Random(seed)
        self._resources: dict[bytes, Resource] = {}
        self._scopes: dict[bytes, InstrumentationScope] = {}
        self._pending: OrderedDict[bytes, _Held] = OrderedDict()
        self._pending_spans = 0
        self._kept: dict[bytes, _Held] = {}
        self._slowest: list[tuple[int, int, bytes]] = []  # min-heap of (duration, order, trace id)
        self._in_slowest: set[bytes] = set()
        self._sample: list[bytes] = []
        self._hinted: deque[bytes] = deque()
        self._in_hinted: set[bytes] = set()
        self._recent: deque[bytes] = deque(maxlen=_RECENT)
        self._recent_set: set[bytes] = set()
        self.spans = 0  # every span received, kept or not
        self.finished = 0  # traces finished (ranked and sampled)
        self.dropped_spans = 0  # spans not held: late for a dropped trace, or beyond SPANS_PER_TRACE

    @property
    def traces(self) -> int:
        """Traces seen: finished, and pending now."""
        return self.finished + len(self._pending)

    def add(self, request: ExportTraceServiceRequest) -> None:
        spans, rooted = hold_each(request, self._resources, self._scopes, self._hold)
        self.spans += spans
        for trace_id in rooted:
            if trace_id in self._pending:
                self._finish(trace_id)
        while self._pending_spans > PENDING_SPANS:
            self._finish(next(iter(self._pending)))

    def _hold(self, resource_key: bytes, scope_key: bytes, span: Span) -> bool:
        """Hold the span with its trace; False when it is dropped."""
        trace_id = span.trace_id
        held = self._kept.get(trace_id)
        if held is None and trace_id in self._recent_set:
            self.dropped_spans += 1
            return False
        if held is None:
            held = self._pending.get(trace_id)
            if held is None:
                held = self._pending[trace_id] = _Held(span.start_time_unix_nano, span.end_time_unix_nano)
        if len(held.spans) >= SPANS_PER_TRACE:
            self.dropped_spans += 1
            return False
        self._pending_spans += trace_id in self._pending
        if not span.parent_span_id and any(each.key == names.KEEP for each in span.attributes):
            held.hinted = True
        held.start = min(held.start, span.start_time_unix_nano)
        held.end = max(held.end, span.end_time_unix_nano)
        held.spans.append((resource_key, scope_key, span.SerializeToString()))
        return True

    def _finish(self, trace_id: bytes) -> None:
        held = self._pending.pop(trace_id)
        self._pending_spans -= len(held.spans)
        self.finished += 1
        if len(self._recent) == _RECENT:
            self._recent_set.discard(self._recent[0])
        self._recent.append(trace_id)
        self._recent_set.add(trace_id)
        keep = False
        if self._slowest_wanted:
            entry = (held.duration, self.finished, trace_id)
            if len(self._slowest) < self._slowest_wanted:
                heapq.heappush(self._slowest, entry)
                self._in_slowest.add(trace_id)
                keep = True
            elif entry > self._slowest[0]:
                _, _, out = heapq.heapreplace(self._slowest, entry)
                self._in_slowest.discard(out)
                self._in_slowest.add(trace_id)
                self._release(out)
                keep = True
        if self._sample_wanted:
            if len(self._sample) < self._sample_wanted:
                self._sample.append(trace_id)
                keep = True
            else:
                index = self._random.randrange(self.finished)
                if index < self._sample_wanted:
                    out = self._sample[index]
                    self._sample[index] = trace_id
                    self._release(out)
                    keep = True
        if held.hinted:
            self._hinted.append(trace_id)
            self._in_hinted.add(trace_id)
            keep = True
            if len(self._hinted) > HINTED:
                out = self._hinted.popleft()
                self._in_hinted.discard(out)
                self._release(out)
        if keep:
            self._kept[trace_id] = held

    def _release(self, trace_id: bytes) -> None:
        """Drop a trace that left the slowest, the sample or the hinted, unless it is still in another."""
        if trace_id not in self._in_slowest and trace_id not in self._in_hinted and trace_id not in self._sample:
            self._kept.pop(trace_id, None)

    def requests(self) -> list[ExportTraceServiceRequest]:
        """The traces held (kept, then pending), one request per trace, spans grouped by resource and scope."""
        found = []
        for held in [*self._kept.values(), *self._pending.values()]:
            found.append(rebuilt(held.spans, self._resources, self._scopes))
        return found


def hold_each(
    request: ExportTraceServiceRequest,
    resources: dict[bytes, Resource],
    scopes: dict[bytes, InstrumentationScope],
    hold: Callable[[bytes, bytes, Span], bool],
) -> tuple[int, list[bytes]]:
    """Each span of ``request`` to ``hold`` with the keys of its resource and scope, each of which is kept
    once (a copy, by its serialized bytes) however many requests carry it; returns the spans seen and the
    trace ids of the root spans ``hold`` kept: the traces that may now be finished."""
    seen = 0
    rooted: list[bytes] = []
    for resource_spans in request.resource_spans:
        resource_key = resource_spans.resource.SerializeToString(deterministic=True)
        if resource_key not in resources:
            resources[resource_key] = Resource()
            resources[resource_key].CopyFrom(resource_spans.resource)
        for scope_spans in resource_spans.scope_spans:
            scope_key = scope_spans.scope.SerializeToString(deterministic=True)
            if scope_key not in scopes:
                scopes[scope_key] = InstrumentationScope()
                scopes[scope_key].CopyFrom(scope_spans.scope)
            for span in scope_spans.spans:
                seen += 1
                if hold(resource_key, scope_key, span) and not span.parent_span_id:
                    rooted.append(span.trace_id)
    return seen, rooted


def rebuilt(
    spans: Iterable[tuple[bytes, bytes, bytes]],
    resources: dict[bytes, Resource],
    scopes: dict[bytes, InstrumentationScope],
) -> ExportTraceServiceRequest:
    """One request of held spans (their resource's and scope's keys, and the span serialized), grouped back
    under the resources and scopes :func:`hold_each` kept."""
    request = ExportTraceServiceRequest()
    groups: dict[tuple[bytes, bytes], list[bytes]] = {}
    for resource_key, scope_key, span in spans:
        groups.setdefault((resource_key, scope_key), []).append(span)
    for (resource_key, scope_key), serialized in groups.items():
        resource_spans = request.resource_spans.add()
        resource_spans.resource.CopyFrom(resources[resource_key])
        scope_spans = resource_spans.scope_spans.add()
        scope_spans.scope.CopyFrom(scopes[scope_key])
        scope_spans.spans.extend(Span.FromString(span) for span in serialized)
    return request
