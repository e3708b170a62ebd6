"""Optional per-operation memory measurement (RSS growth, tracemalloc allocation and peak).

Off by default: tracemalloc slows every allocation, and reading RSS costs a system call per operation.
tracemalloc figures are process-wide, so operations that overlap in other threads share them.
"""

from __future__ import annotations

import os
import sys
import tracemalloc

from otel_agentperf.conventions.names import MEMORY_ALLOCATED, MEMORY_PEAK, MEMORY_RSS_DELTA
from otel_agentperf.runtime import settings

RSS, TRACEMALLOC = settings.MEMORY_MODES  # the modes the settings accept, named once there

_PAGE_SIZE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def rss_bytes() -> int:
    """Current resident set size; the peak RSS where /proc is not available."""
    try:
        with open("/proc/self/statm", "rb") as statm:
            return int(statm.read().split()[1]) * _PAGE_SIZE
    except OSError:
        import resource  # POSIX only; imported where it is needed

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak if sys.platform == "darwin" else peak * 1024


class MemoryProbe:
    """Takes a snapshot before an operation and turns it into byte deltas after it."""

    __slots__ = ("_rss", "_tracemalloc")

    def __init__(self, modes: frozenset[str]) -> None:
        self._rss = RSS in modes
        self._tracemalloc = TRACEMALLOC in modes
        if self._tracemalloc and not tracemalloc.is_tracing():
            tracemalloc.start()

    def start(self) -> tuple[int, int]:
        rss = rss_bytes() if self._rss else 0
        current = 0
        if self._tracemalloc:
            current = tracemalloc.get_traced_memory()[0]
            tracemalloc.reset_peak()
        return rss, current

    def finish(self, snapshot: tuple[int, int]) -> dict[str, int]:
        deltas: dict[str, int] = {}
        if self._rss:
            deltas[MEMORY_RSS_DELTA] = rss_bytes() - snapshot[0]
        if self._tracemalloc:
            current, peak = tracemalloc.get_traced_memory()
            deltas[MEMORY_ALLOCATED] = current - snapshot[1]
            deltas[MEMORY_PEAK] = max(peak - snapshot[1], 0)
        return deltas
