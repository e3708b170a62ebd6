"""Slow operations as OpenTelemetry log records: what a hand-written ``timed_operation(threshold_ms=...)``
helper gives a team, with the trace to look at.

An operation that takes longer than its kind's threshold (``OTEL_AGENTPERF_SLOW_MS``) emits one log
record, in its span's context (so it carries the trace and span id), with its name, duration and self
time. At most one record per operation every ``INTERVAL_S`` seconds: the next one says how many were
left out, so a model that is slow for an hour costs a log line every few seconds, not one per call.
Records go to the global logger provider: nowhere until the application (or the launcher, with
``OTEL_LOGS_EXPORTER``) sets one up.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Mapping
from typing import Any

from opentelemetry import _logs
from opentelemetry.trace import Span
from opentelemetry.util.types import AttributeValue

from otel_agentperf.conventions import names
from otel_agentperf.runtime import forksafe
from otel_agentperf.version import __version__

INTERVAL_S = 10.0
_REMEMBERED = 1024  # operations whose last record is remembered; past that, the oldest are forgotten
# LogRecord took the span's context from API 1.35 on; before, its trace and span ids.
_TAKES_CONTEXT = "context" in inspect.signature(_logs.LogRecord.__init__).parameters


class SlowLog:
    """Thresholds per kind, and when each operation was last logged."""

    def __init__(self, thresholds: Mapping[str, float]) -> None:
        self.thresholds = dict(thresholds)
        self._lock = forksafe.lock()
        self._last: dict[tuple[str, str], tuple[float, int]] = {}  # (kind, span name) -> (when, left out)
        self._logger: Any = None

    def record(
        self, kind: str, span: Span, span_name: str, duration: float, own: float, attributes: Mapping[str, Any]
    ) -> None:
        """``span``'s operation took ``duration``, over its kind's threshold: log it, unless logged lately."""
        now = time.monotonic()
        key = (kind, span_name)
        with self._lock:
            last, left_out = self._last.get(key, (-INTERVAL_S, 0))
            if now - last < INTERVAL_S:
                self._last[key] = (last, left_out + 1)
                return
            self._last.pop(key, None)
            self._last[key] = (now, 0)
            if len(self._last) > _REMEMBERED:
                self._last.pop(next(iter(self._last)))
        threshold = self.thresholds[kind]
        fields: dict[str, AttributeValue] = {
            **attributes,
            names.OPERATION_KIND: kind,
            names.SLOW_OPERATION_NAME: span_name,
            names.SLOW_OPERATION_DURATION: duration,
            names.SELF_TIME: own,
            names.SLOW_THRESHOLD: threshold,
            names.SLOW_LEFT_OUT: left_out,
        }
        body = f"slow {kind}: {span_name} took {duration * 1000:.1f} ms (over {threshold * 1000:g} ms)"
        if self._logger is None:
            self._logger = _logs.get_logger(names.SCOPE_NAME, __version__)
        span_context = span.get_span_context()
        where: dict[str, Any]
        if _TAKES_CONTEXT:
            from opentelemetry import trace

            where = {"context": trace.set_span_in_context(span)}
        else:
            where = {
                "trace_id": span_context.trace_id,
                "span_id": span_context.span_id,
                "trace_flags": span_context.trace_flags,
            }
        self._logger.emit(
            _logs.LogRecord(
                timestamp=time.time_ns(),
                severity_number=_logs.SeverityNumber.WARN,
                severity_text="WARN",
                body=body,
                attributes=fields,
                **where,
            )
        )
