"""Reads a Prometheus scrape of an instrumented app into rows, with prometheus-client's own text parser."""

from __future__ import annotations

import urllib.error
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

from otel_agentperf.views import families
from otel_agentperf.views.rows import ReportError, Row


def parse(text: str) -> list[Row]:
    """Rows for every operation found in exposition ``text``, ranked (see :func:`families.rows`)."""
    try:
        parsed = list(text_string_to_metric_families(text))
    except Exception as exc:
        raise ReportError(f"not Prometheus exposition text ({exc})") from exc
    return families.rows(parsed)


def fetch(url: str, timeout: float = 10.0) -> str:
    """GET a metrics endpoint; any failure becomes a :class:`ReportError` naming the URL."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return str(response.read().decode("utf-8", errors="replace"))
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise ReportError(f"cannot read {url}: {getattr(exc, 'reason', exc)}") from exc
