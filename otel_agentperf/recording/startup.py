"""Cold start: how long after the process started it was instrumented, and ran its first agent.

Recorded once per process (a forked worker records its own first agent, timed from its fork) on
``agentperf.startup.duration``; between the two phases, the imports are timed (``imports.py``). The
process start comes from ``/proc`` (Linux); where there is none, nothing is recorded rather than a guess.
"""

from __future__ import annotations

import os
import time
from time import perf_counter

from opentelemetry.context import Context
from opentelemetry.trace import Tracer

from otel_agentperf.conventions import names
from otel_agentperf.recording import imports
from otel_agentperf.recording.recorder import Recorder
from otel_agentperf.runtime import settings


def process_age() -> float | None:
    """Seconds since this process started, from ``/proc`` (to a clock tick); None where that is missing.

    Both ends are counted from the machine's boot (``CLOCK_BOOTTIME`` and the start tick in
    ``/proc/self/stat``): the boot time as a date is known only to the second.
    """
    try:
        with open("/proc/self/stat", "rb") as stat:
            fields = stat.read().rsplit(b")", 1)[1].split()
        started = int(fields[19]) / os.sysconf("SC_CLK_TCK")  # field 22 of stat: start, in ticks after boot
        return max(time.clock_gettime(time.CLOCK_BOOTTIME) - started, 0.0)
    except (OSError, ValueError, IndexError, AttributeError):
        return None


class ColdStart:
    """Which phases this process has recorded; a forked child starts again."""

    def __init__(self) -> None:
        self._recorded: set[str] = set()
        if hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=self._recorded.clear)

    def reached(
        self, phase: str, recorder: Recorder, context: Context | None = None, tracer: Tracer | None = None
    ) -> None:
        """The process reached ``phase`` (``instrumented``, ``first_agent``): record when, the first time;
        ``context``: the operation that reached it (the first agent), whose span the point's exemplar names.
        Instrumented starts timing imports; the first agent records them (as spans by ``tracer`` too, when
        asked for)."""
        if phase in self._recorded:
            return
        self._recorded.add(phase)
        if phase == names.STARTUP_INSTRUMENTED and names.STARTUP_FIRST_AGENT not in self._recorded:
            imports.timer.start()
        elif phase == names.STARTUP_FIRST_AGENT:
            spans = tracer if settings.current().import_spans else None
            imports.timer.record(recorder, spans, perf_counter())
        age = process_age()
        if age is not None:
            recorder.startup(phase, age, context)


cold_start = ColdStart()
