"""Keeps metric attribute values low-cardinality: past a cap, new values become ``_OTHER``."""

from __future__ import annotations

from otel_agentperf.names import OTHER


class BoundedValues:
    """The first ``limit`` distinct values pass through unchanged; later new ones map to ``_OTHER``."""

    __slots__ = ("_limit", "_seen")

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._seen: set[str] = set()

    def __call__(self, value: str) -> str:
        if value in self._seen:
            return value
        if not value or len(self._seen) >= self._limit:
            return OTHER
        self._seen.add(value)
        return value
