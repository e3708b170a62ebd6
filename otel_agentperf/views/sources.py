"""Where a report's rows come from: a saved run, a saved scrape, a ``report --format json`` file, a URL, or a
window of a Prometheus server (``prometheus_window.py``).

``report`` and ``check`` (and ``check``'s baseline) read their input here, so every command sees the same
rows for the same file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from otel_agentperf.receiving import received, saved
from otel_agentperf.views import otlp, prometheus_window, report, scrape
from otel_agentperf.views.rows import ReportError, Row

NOTHING_THERE = (
    "nothing answers there: an app exports /metrics only while it runs, with OTEL_METRICS_EXPORTER=prometheus; "
    "for a script that exits, run it as: otel-agentperf run -- python app.py"
)


@dataclass(frozen=True)
class Source:
    """A run's telemetry as the views read it: its rows, and what was received when it is a run's (its
    traces, for views that need more than metrics)."""

    label: str
    rows: list[Row]
    received: received.Received | None = None


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ReportError(f"cannot read {path}: {exc.strerror or exc}") from exc


def from_received(got: received.Received, label: str) -> Source:
    """The rows of what ``run`` received."""
    return Source(label, otlp.rows(got.metric_requests()), got)


def from_file(path: Path, slowest: int | None = 0) -> Source:
    """A ``run --save`` file, a ``report --format json`` output, or a saved Prometheus scrape.

    A saved run is read one request at a time into a :class:`received.Received` that keeps the ``slowest``
    slowest traces (``None``: every trace; 0: none, its traces not even decoded, for the
    report and the gate, which read metrics), so a saved run of any size is read in bounded memory; the
    other two are small, and read whole."""
    try:
        with path.open("rb") as stream:
            if saved.is_saved_run(stream.read(len(saved.MAGIC))):
                stream.seek(0)
                return from_received(received.load(stream, slowest, traces=slowest != 0), str(path))
    except saved.SavedRunError as exc:
        raise ReportError(f"{path}: {exc}") from exc
    except OSError as exc:
        raise ReportError(f"cannot read {path}: {exc.strerror or exc}") from exc
    data = _read(path)
    text = data.decode("utf-8", errors="replace")
    if text.lstrip().startswith("{"):
        try:
            return Source(str(path), report.read_json(json.loads(text)))
        except (ValueError, TypeError, KeyError) as exc:
            raise ReportError(f"{path}: not a report --format json output ({exc})") from exc
    return Source(str(path), scrape.parse(text))


def from_url(url: str) -> Source:
    """A scrape of an app's /metrics endpoint."""
    try:
        return Source(url, scrape.parse(scrape.fetch(url)))
    except ReportError as exc:
        refused = "refused" in str(exc).lower()
        raise ReportError(f"{exc}\n{NOTHING_THERE}" if refused else str(exc)) from exc


def from_prometheus(window: prometheus_window.Window) -> Source:
    """A window of a Prometheus server's metrics, summed across replicas."""
    return Source(window.label, window.rows())
