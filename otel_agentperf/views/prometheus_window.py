"""A time window of a Prometheus server's metrics, summed across instances and replicas, as report rows.

Prometheus does the aggregation: for each metric family :func:`families.rows` reads (both conventions
layouts), one PromQL query gives what each series counted in the window, summed ``by`` the labels rows read
(:func:`families.read_labels`: ``le`` and the labels that name a row), so ``instance``, ``job``, a pod and
any label a federation adds are summed away. The answers are the families a scrape gives, and
``families.rows`` makes them rows as it makes a scrape's: the same rows, sentences, requests and JSON.

What a series counted in the window ``(end - range, end]`` is its last value in the window less its value at
the window's start (an exact difference of scrapes, so the counts equal the apps' own, unlike ``increase``,
which extrapolates to the window's edges); a series that first appears in the window counted all it holds
(a new process counts from 0); a series that was reset in the window (a process restarted under the same
labels) falls back to ``increase``.
"""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass
from datetime import datetime, timezone

from otel_agentperf.views import families
from otel_agentperf.views.otlp import Family, Sample
from otel_agentperf.views.prometheus_http import Server
from otel_agentperf.views.rows import ReportError, Row

_SUFFIXES = ("_bucket", "_count", "_sum", "_total")
_DURATION = re.compile(r"(\d+)(ms|s|m|h|d|w|y)")
_UNIT_S = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400, "y": 365 * 86400}


def duration(text: str) -> float:
    """Seconds in a Prometheus duration (``30s``, ``5m``, ``1h30m``, ``1d``); a :class:`ReportError` otherwise."""
    parts = _DURATION.findall(text)
    if not parts or "".join(number + unit for number, unit in parts) != text:
        raise ReportError(f"not a Prometheus duration: {text!r} (such as 30s, 5m, 1h, 1d)")
    seconds = sum(int(number) * _UNIT_S[unit] for number, unit in parts)
    if seconds <= 0:
        raise ReportError(f"the range must be more than 0: {text!r}")
    return seconds


def instant(text: str) -> float:
    """Unix seconds from ``now``, unix seconds or an RFC 3339 time (``2025-06-01T10:00:00Z``)."""
    if text == "now":
        return time.time()
    try:
        return float(text)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ReportError(
            f"not a time: {text!r} (give now, unix seconds or RFC 3339 such as 2025-06-01T10:00:00Z)"
        ) from None
    if moment.tzinfo is None:
        raise ReportError(f"a time needs its offset: {text!r} (add Z for UTC, or +02:00)")
    return moment.timestamp()


def matchers(selector: str | None) -> str:
    """The label matchers of ``--match`` (``{job="agents"}`` or ``job="agents"``), to add to every query."""
    if not selector:
        return ""
    inner = selector.strip()
    if inner.startswith("{") and inner.endswith("}"):
        inner = inner[1:-1]
    if "{" in inner or "}" in inner:
        raise ReportError(f"not a label selector: {selector!r} (such as '{{job=\"agents\"}}')")
    return inner.strip().strip(",")


def _stamp(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class Window:
    """What the server's series counted in ``(end - seconds, end]`` (``end`` None: now, read anew each time),
    summed across every instance that ``match`` selects; a :class:`sources.Source`'s rows and ``top``'s
    source (``start`` fixed: the window grows with each refresh, so two readings subtract)."""

    server: Server
    seconds: float
    end: float | None = None
    match: str = ""
    start: float | None = None  # a fixed start instead of ``seconds`` before ``end``

    @property
    def label(self) -> str:
        if self.start is not None:
            return f"{self.server.url} since {_stamp(self.start)}"
        until = "now" if self.end is None else _stamp(self.end)
        return f"{self.server.url} {self.seconds:g}s to {until}"

    def _selector(self, name: str) -> str:
        extra = f",{self.match}" if self.match else ""
        return f'{{__name__="{name}"{extra}}}'

    def query(self, name: str, seconds: float) -> str:
        """The PromQL for what ``name``'s series counted in the window, summed by the labels rows read."""
        series, span = self._selector(name), f"[{max(1, round(seconds * 1000))}ms]"
        counted = (
            f"((last_over_time({series}{span}) - {series} offset {span[1:-1]}) or last_over_time({series}{span}))"
            f" unless resets({series}{span}) > 0 or increase({series}{span})"
        )
        return f"sum by ({', '.join(sorted(families.read_labels()))}) ({counted})"

    def families(self) -> list[Family]:
        """The families in the window, in prometheus-client's shape (what ``families.rows`` reads)."""
        end = time.time() if self.end is None else self.end
        seconds = self.seconds if self.start is None else max(end - self.start, 0.001)
        wanted = families.read_families()
        pattern = "|".join(sorted(re.escape(name) for name in wanted))
        suffixes = "|".join(suffix[1:] for suffix in _SUFFIXES)
        extra = f",{self.match}" if self.match else ""
        present = self.server.get(
            "/api/v1/label/__name__/values",
            [
                ("match[]", f'{{__name__=~"({pattern})_({suffixes})"{extra}}}'),
                ("start", f"{end - seconds:.3f}"),
                ("end", f"{end:.3f}"),
            ],
        )
        found: dict[str, Family] = {}
        for name in sorted(present or []):
            family = next((name[: -len(suffix)] for suffix in _SUFFIXES if name.endswith(suffix)), None)
            if family not in wanted:
                continue
            answer = self.server.get("/api/v1/query", [("query", self.query(name, seconds)), ("time", f"{end:.3f}")])
            if not isinstance(answer, dict) or answer.get("resultType") != "vector":
                raise ReportError(f"{self.server.url}: not an instant vector for {name}")
            kind = "histogram" if name.endswith(("_bucket", "_count", "_sum")) else "counter"
            target = found.setdefault(family, Family(family, kind))
            for item in answer["result"]:
                value = float(item["value"][1])
                if math.isfinite(value):
                    target.samples.append(Sample(name, dict(item["metric"]), value))
        return list(found.values())

    def rows(self) -> list[Row]:
        """The window's rows, ranked, as a scrape's are."""
        return families.rows(self.families())
