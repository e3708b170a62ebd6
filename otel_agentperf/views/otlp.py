"""OTLP metric requests (what ``otel-agentperf run`` received) as metric families, then rows.

Families are named and labelled as the Prometheus exporter would expose the same metrics
(``conventions/prometheus.py``), so ``families.rows`` turns them into rows exactly as it turns a scrape.
Delta points (what ``run`` asks its app for, so that the points of every forked worker add up) are summed;
cumulative points keep the latest per stream (resource, scope, attributes and start time), and streams add
up. A histogram also gives ``_min`` and ``_max`` samples: OTLP carries them, exposition cannot.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.metrics.v1.metrics_pb2 import AggregationTemporality

from otel_agentperf.conventions import prometheus
from otel_agentperf.views import families
from otel_agentperf.views.rows import Row

_CUMULATIVE = AggregationTemporality.AGGREGATION_TEMPORALITY_CUMULATIVE


@dataclass(frozen=True)
class Sample:
    name: str
    labels: dict[str, str]
    value: float


@dataclass
class Family:
    """One metric family in prometheus-client's shape: what :func:`families.rows` reads."""

    name: str
    type: str
    samples: list[Sample] = field(default_factory=list)


@dataclass
class _Series:
    """One labelled series of a family, summed over the points (and streams) that make it."""

    value: float = 0.0
    count: float = 0.0
    sum: float = 0.0
    buckets: dict[float, float] = field(default_factory=dict)  # per upper bound, not cumulative
    minimum: float = math.inf
    maximum: float = -math.inf

    def add(self, point: Any, histogram: bool) -> None:
        if not histogram:
            self.value += point.as_double if point.HasField("as_double") else point.as_int
            return
        self.count += point.count
        self.sum += point.sum
        for bound, count in zip([*point.explicit_bounds, math.inf], point.bucket_counts, strict=False):
            self.buckets[bound] = self.buckets.get(bound, 0.0) + count
        if point.HasField("min"):
            self.minimum = min(self.minimum, point.min)
        if point.HasField("max"):
            self.maximum = max(self.maximum, point.max)

    def samples(self, name: str, kind: str, labels: dict[str, str]) -> list[Sample]:
        if kind == "counter":
            return [Sample(f"{name}_total", labels, self.value)]
        if kind == "gauge":
            return [Sample(name, labels, self.value)]
        found, below = [], 0.0
        for bound in sorted(self.buckets):
            below += self.buckets[bound]
            edge = "+Inf" if math.isinf(bound) else repr(bound)
            found.append(Sample(f"{name}_bucket", {**labels, "le": edge}, below))
        found += [Sample(f"{name}_count", labels, self.count), Sample(f"{name}_sum", labels, self.sum)]
        if self.minimum <= self.maximum:
            found += [Sample(f"{name}_min", labels, self.minimum), Sample(f"{name}_max", labels, self.maximum)]
        return found


def _value(value: AnyValue) -> object:
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return [_value(each) for each in value.array_value.values]
    if kind == "kvlist_value":
        return {each.key: _value(each.value) for each in value.kvlist_value.values}
    return None if kind is None else getattr(value, kind)


def _labels(attributes: Iterable[KeyValue]) -> dict[str, str]:
    return {prometheus.label(each.key): prometheus.label_value(_value(each.value)) for each in attributes}


def to_families(requests: Iterable[ExportMetricsServiceRequest]) -> list[Family]:
    """The families a Prometheus exporter would expose for the metrics these requests carry."""
    series: dict[tuple[str, str, tuple[tuple[str, str], ...]], _Series] = {}
    # Cumulative points: the latest per stream, then added into their series like a delta.
    latest: dict[tuple[Any, ...], tuple[int, Any, tuple[str, str, tuple[tuple[str, str], ...]], bool]] = {}
    for request in requests:
        for resource_metrics in request.resource_metrics:
            resource = tuple(sorted(_labels(resource_metrics.resource.attributes).items()))
            for scope_metrics in resource_metrics.scope_metrics:
                for metric in scope_metrics.metrics:
                    data = metric.WhichOneof("data")
                    if data not in ("sum", "gauge", "histogram"):
                        continue  # exponential histograms and summaries: no row reads them
                    body = getattr(metric, data)
                    kind = ("counter" if body.is_monotonic else "gauge") if data == "sum" else data
                    name = prometheus.metric_name(metric.name, metric.unit)
                    cumulative = data == "gauge" or body.aggregation_temporality == _CUMULATIVE
                    scope = {prometheus.SCOPE_LABEL: scope_metrics.scope.name}  # as the Prometheus exporter labels it
                    for point in body.data_points:
                        key = (name, kind, tuple(sorted({**_labels(point.attributes), **scope}.items())))
                        if cumulative:
                            stream = (key, resource, scope_metrics.scope.name, point.start_time_unix_nano)
                            if stream not in latest or latest[stream][0] <= point.time_unix_nano:
                                latest[stream] = (point.time_unix_nano, point, key, data == "histogram")
                        else:
                            series.setdefault(key, _Series()).add(point, data == "histogram")
    for _, point, key, histogram in latest.values():
        series.setdefault(key, _Series()).add(point, histogram)
    found: dict[str, Family] = {}
    for (name, kind, labels), each in series.items():
        family = found.setdefault(name, Family(name, kind))
        family.samples += each.samples(name, kind, dict(labels))
    return list(found.values())


def rows(requests: Iterable[ExportMetricsServiceRequest]) -> list[Row]:
    """Report rows for the metrics these requests carry, ranked as a scrape's are."""
    return families.rows(to_families(requests))
