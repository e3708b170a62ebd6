"""docs/metrics.md lists every metric of the instrument catalogue, with the Prometheus name it really gets."""

from __future__ import annotations

from pathlib import Path

import pytest

from otel_agentperf.conventions import names, prometheus
from otel_agentperf.conventions.instruments import catalogue

METRICS_DOC = Path(__file__).resolve().parent.parent / "docs" / "metrics.md"
ALL_HISTOGRAMS = {spec.name: spec for latest in (False, True) for spec in catalogue(latest).histograms()}
COUNTERS = {spec.name: spec for spec in catalogue(False).counters()}


@pytest.mark.parametrize("metric", sorted(ALL_HISTOGRAMS))
def test_every_histogram_is_documented_with_its_prometheus_name(metric: str) -> None:
    spec = ALL_HISTOGRAMS[metric]
    rows = [line for line in METRICS_DOC.read_text().splitlines() if line.startswith(f"| `{metric}` |")]
    assert len(rows) == 1, f"{metric} is not in the table of docs/metrics.md"
    assert f"`{prometheus.family(spec)}`" in rows[0]
    assert f"| {spec.unit} |" in rows[0]


def test_the_in_flight_counter_is_documented() -> None:
    family = prometheus.family(catalogue(False).operations_active)
    assert f"| `{names.OPERATIONS_ACTIVE}` |" in METRICS_DOC.read_text()
    assert f"`{family}`" in METRICS_DOC.read_text()


def test_the_self_time_counter_is_documented() -> None:
    rows = [line for line in METRICS_DOC.read_text().splitlines() if line.startswith(f"| `{names.SELF_TIME}` |")]
    assert len(rows) == 1
    assert f"`{prometheus.family(catalogue(False).self_time)}_total`" in rows[0]


@pytest.mark.parametrize("metric", sorted(COUNTERS))
def test_every_counter_is_documented_with_its_prometheus_name(metric: str) -> None:
    spec = COUNTERS[metric]
    rows = [line for line in METRICS_DOC.read_text().splitlines() if line.startswith(f"| `{spec.name}` |")]
    assert len(rows) == 1, f"{spec.name} is not in the table of docs/metrics.md"
    assert f"`{prometheus.family(spec)}_total`" in rows[0]
    assert f"| {spec.unit} |" in rows[0]
