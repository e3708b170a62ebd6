"""docs/metrics.md lists every metric the names module defines, with the Prometheus name it really gets."""

from __future__ import annotations

from pathlib import Path

import pytest

from otel_agentperf.conventions import names

METRICS_DOC = Path(__file__).resolve().parent.parent / "docs" / "metrics.md"
ALL_HISTOGRAMS = {spec.name: spec for latest in (False, True) for spec in names.histograms(latest).values()}


@pytest.mark.parametrize("metric", sorted(ALL_HISTOGRAMS))
def test_every_histogram_is_documented_with_its_prometheus_name(metric: str) -> None:
    spec = ALL_HISTOGRAMS[metric]
    rows = [line for line in METRICS_DOC.read_text().splitlines() if line.startswith(f"| `{metric}` |")]
    assert len(rows) == 1, f"{metric} is not in the table of docs/metrics.md"
    assert f"`{names.prometheus_name(spec.name, spec.unit)}`" in rows[0]
    assert f"| {spec.unit} |" in rows[0]


def test_the_in_flight_counter_is_documented() -> None:
    prometheus = names.prometheus_name(names.OPERATIONS_ACTIVE, names.UNIT_OPERATIONS)
    assert f"| `{names.OPERATIONS_ACTIVE}` |" in METRICS_DOC.read_text()
    assert f"`{prometheus}`" in METRICS_DOC.read_text()


def test_the_self_time_counter_is_documented() -> None:
    rows = [line for line in METRICS_DOC.read_text().splitlines() if line.startswith(f"| `{names.SELF_TIME}` |")]
    assert len(rows) == 1
    assert f"`{names.prometheus_name(names.SELF_TIME, names.UNIT_SECONDS)}_total`" in rows[0]


@pytest.mark.parametrize("key", sorted(names.counters()))
def test_every_counter_is_documented_with_its_prometheus_name(key: str) -> None:
    spec = names.counters()[key]
    rows = [line for line in METRICS_DOC.read_text().splitlines() if line.startswith(f"| `{spec.name}` |")]
    assert len(rows) == 1, f"{spec.name} is not in the table of docs/metrics.md"
    assert f"`{names.prometheus_name(spec.name, spec.unit)}_total`" in rows[0]
    assert f"| {spec.unit} |" in rows[0]
