"""PromQL over the package's series, spelled as the Prometheus exporter spells them.

The dashboards and the alert rules build every query from these helpers and the v1.41 catalogue, so a
metric renamed in ``conventions`` is renamed in every query.
"""

from __future__ import annotations

from otel_agentperf.conventions import names, prometheus
from otel_agentperf.conventions.instruments import Instrument, catalogue

WINDOW = "$__rate_interval"
# The dashboards and rules query the default layout (semconv v1.41).
INSTRUMENTS = catalogue(False)
DURATIONS = INSTRUMENTS.durations


def series(instrument: Instrument) -> str:
    """The Prometheus name of a histogram (before ``_bucket``/``_sum``/``_count``) or of a counter."""
    name = prometheus.family(instrument)
    return name + "_total" if instrument in INSTRUMENTS.counters() else name


def label(attribute: str) -> str:
    return prometheus.label(attribute)


def rate(metric: str, selector: str, by: str = "", window: str = WINDOW) -> str:
    grouping = f" by ({by})" if by else ""
    matchers = f"{{{selector}}}" if selector else ""
    return f"sum{grouping} (rate({metric}{matchers}[{window}]))"


def quantile(q: float, instrument: Instrument, selector: str, by: str = "", window: str = WINDOW) -> str:
    grouping = ", ".join(filter(None, ["le", by]))
    return f"histogram_quantile({q}, {rate(series(instrument) + '_bucket', selector, grouping, window)})"


def error_ratio(instrument: Instrument, selector: str, by: str = "") -> str:
    """1 - successes/all: defined (0) when nothing failed, unlike failures/all."""
    count = series(instrument) + "_count"
    succeeded = selector + "," + label(names.ERROR_TYPE) + '=""'
    return f"1 - {rate(count, succeeded, by)} / {rate(count, selector, by)}"
