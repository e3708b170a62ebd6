"""Received OTLP metrics in memory bounded by their series, not by how many exports arrived.

A stream is one resource (process), scope, metric and attribute set. For it the digest keeps one point: the
latest of a cumulative (or gauge) stream, whose value already holds everything before it, and the sum of a
delta stream's points (counts, sums, bucket counts added; min and max of the mins and maxes), which is what
any reader of every delta point would add up. Reading the digest back as one ``ExportMetricsServiceRequest``
therefore gives the same rows as reading every request received, so a run of an hour and a run of a
second cost the same memory per series. Exemplars are not kept (no view reads them; each export would add
some).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import InstrumentationScope
from opentelemetry.proto.metrics.v1.metrics_pb2 import AggregationTemporality, Metric
from opentelemetry.proto.resource.v1.resource_pb2 import Resource

_DELTA = AggregationTemporality.AGGREGATION_TEMPORALITY_DELTA
_KINDS = ("sum", "gauge", "histogram")  # exponential histograms and summaries: no view reads them


@dataclass
class _Scoped:
    """One resource and scope's streams, each metric's points keyed by their stream."""

    resource: Resource
    scope: InstrumentationScope
    metrics: dict[tuple[str, str, str, int, bool], Metric] = field(default_factory=dict)
    points: dict[tuple[Any, ...], Any] = field(default_factory=dict)


def _attributes_key(attributes: Any) -> tuple[bytes, ...]:
    return tuple(sorted(each.SerializeToString(deterministic=True) for each in attributes))


def _merge_delta(into: Any, point: Any, histogram: bool) -> None:
    """Add a delta point into the one kept for its stream."""
    if not histogram:
        if point.HasField("as_double") or into.HasField("as_double"):
            total = _number(into) + _number(point)
            into.as_double = total
        else:
            into.as_int += point.as_int
    else:
        into.count += point.count
        into.sum += point.sum
        counts = list(into.bucket_counts)
        for index, count in enumerate(point.bucket_counts):
            counts[index] += count
        del into.bucket_counts[:]
        into.bucket_counts.extend(counts)
        if point.HasField("min"):
            into.min = min(into.min, point.min) if into.HasField("min") else point.min
        if point.HasField("max"):
            into.max = max(into.max, point.max) if into.HasField("max") else point.max
    into.start_time_unix_nano = min(into.start_time_unix_nano, point.start_time_unix_nano)
    into.time_unix_nano = max(into.time_unix_nano, point.time_unix_nano)


def _number(point: Any) -> float:
    return float(point.as_double if point.HasField("as_double") else point.as_int)


class MetricDigest:
    """Every stream's one point; :meth:`add` a request, :meth:`request` the digest as one request."""

    def __init__(self) -> None:
        self._scoped: dict[tuple[bytes, bytes], _Scoped] = {}
        self.exports = 0  # requests added

    def add(self, request: ExportMetricsServiceRequest) -> None:
        self.exports += 1
        for resource_metrics in request.resource_metrics:
            resource_key = resource_metrics.resource.SerializeToString(deterministic=True)
            for scope_metrics in resource_metrics.scope_metrics:
                key = (resource_key, scope_metrics.scope.SerializeToString(deterministic=True))
                scoped = self._scoped.get(key)
                if scoped is None:
                    scoped = self._scoped[key] = _Scoped(Resource(), InstrumentationScope())
                    scoped.resource.CopyFrom(resource_metrics.resource)
                    scoped.scope.CopyFrom(scope_metrics.scope)
                for metric in scope_metrics.metrics:
                    self._add_metric(scoped, metric)

    def _add_metric(self, scoped: _Scoped, metric: Metric) -> None:
        data = metric.WhichOneof("data")
        if data not in _KINDS:
            return
        body = getattr(metric, data)
        temporality = 0 if data == "gauge" else body.aggregation_temporality
        monotonic = data == "sum" and body.is_monotonic
        metric_key = (metric.name, metric.unit, data, temporality, monotonic)
        shell = scoped.metrics.get(metric_key)
        if shell is None:
            shell = scoped.metrics[metric_key] = Metric(
                name=metric.name, unit=metric.unit, description=metric.description
            )
            kept_body = getattr(shell, data)
            kept_body.SetInParent()
            if data != "gauge":
                kept_body.aggregation_temporality = temporality
            if data == "sum":
                kept_body.is_monotonic = monotonic
        histogram = data == "histogram"
        delta = temporality == _DELTA
        for point in body.data_points:
            bounds = tuple(point.explicit_bounds) if histogram else ()
            # A cumulative stream restarted (a new start time) is a stream of its own, as views/otlp reads it.
            start = 0 if delta else point.start_time_unix_nano
            key = (metric_key, _attributes_key(point.attributes), bounds, start)
            kept = scoped.points.get(key)
            if kept is None:
                fresh = type(point)()
                fresh.CopyFrom(point)
                del fresh.exemplars[:]
                scoped.points[key] = fresh
            elif delta:
                _merge_delta(kept, point, histogram)
            elif point.time_unix_nano >= kept.time_unix_nano:
                kept.CopyFrom(point)
                del kept.exemplars[:]

    def series(self) -> int:
        """How many streams are kept: what the digest's memory grows with."""
        return sum(len(scoped.points) for scoped in self._scoped.values())

    def request(self) -> ExportMetricsServiceRequest:
        """The digest as one request (none of it when nothing was received)."""
        found = ExportMetricsServiceRequest()
        for scoped in self._scoped.values():
            resource_metrics = found.resource_metrics.add()
            resource_metrics.resource.CopyFrom(scoped.resource)
            scope_metrics = resource_metrics.scope_metrics.add()
            scope_metrics.scope.CopyFrom(scoped.scope)
            for metric_key, shell in scoped.metrics.items():
                metric = scope_metrics.metrics.add()
                metric.CopyFrom(shell)
                body = getattr(metric, metric_key[2])
                body.data_points.extend(point for key, point in scoped.points.items() if key[0] == metric_key)
        return found
