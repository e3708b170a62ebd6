"""CPU hotspots inside operations: an opt-in sampler of the running operations' stacks.

With ``OTEL_AGENTPERF_CPU_PROFILE=true`` a daemon thread wakes every ``INTERVAL`` seconds and reads every
thread's innermost frame (``sys._current_frames``, as the loop monitor does). A stack that passes through
a running operation's wrapper frame (``loop_clock.RUNNING_FRAMES``: an async operation's frame is on a
stack only while its code runs, never while it awaits) is a sample of that operation, innermost
operation first, charged to the innermost frame's location (its module, function and line) with the
time since the previous look (at most ``LONGEST``): a thread running Python holds the GIL for up to the
switch interval, so looks come later than asked, and counting each as ``INTERVAL`` would understate. Each
operation keeps at most ``LOCATIONS`` locations while it runs, and at most ``FOLLOWED`` operations are
followed at once; the operation takes its samples as it finishes (:meth:`Sampler.take`).

Off (the default), nothing is started and the wrappers note no frame for it. A sample is wall time
spent running, not CPU time strictly: a synchronous call blocked in I/O samples as running too.
"""

from __future__ import annotations

import os
import sys
import threading
from time import perf_counter
from types import FrameType
from typing import Any

from otel_agentperf.recording import loop_clock
from otel_agentperf.runtime import failures, forksafe

INTERVAL = 0.01  # seconds between samples asked for: 100 a second
LONGEST = 0.05  # seconds one sample stands for at most (a sampler held up longer does not inflate)
LOCATIONS = 64  # locations kept per operation; later new ones are not counted
FOLLOWED = 4096  # operations with samples followed at once
Location = tuple[str, str, int]  # module, function, line


class Sampler:
    """The sampling thread and the samples of the operations running now."""

    def __init__(self) -> None:
        self._lock = forksafe.lock()
        self._samples: dict[Any, dict[Location, float]] = {}
        self._last = 0.0
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self.on = False

    def start(self) -> None:
        """Start sampling (once per process; a forked child starts its own)."""
        if self.on:
            return
        self.on = True
        loop_clock.sampling = True
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="otel-agentperf-cpu-sampler", daemon=True)
        self._thread.start()
        if hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=self._restart)

    def stop(self) -> None:
        """Stop sampling and forget what was not taken."""
        self._stop.set()
        self.on = False
        loop_clock.sampling = False
        with self._lock:
            self._samples.clear()

    def _restart(self) -> None:
        if self.on:
            self.on = False
            self._samples = {}
            self.start()

    def take(self, invocation: Any) -> dict[Location, float] | None:
        """The sampled seconds of ``invocation`` by location, which has finished (None when it had none)."""
        with self._lock:
            return self._samples.pop(invocation, None)

    def _run(self) -> None:
        me = threading.get_ident()
        while not self._stop.wait(INTERVAL):
            try:
                self.sample(me)
            except Exception as exc:
                failures.report("sampling the running operations", exc)

    def sample(self, me: int = 0) -> None:
        """One look at every thread but ``me``: a sample for the innermost running operation of each."""
        now = perf_counter()
        weight = min(now - self._last, LONGEST) if self._last else INTERVAL
        self._last = now
        running = loop_clock.RUNNING_FRAMES
        if not running:
            return
        found: list[tuple[Any, Location]] = []
        for ident, frame in sys._current_frames().items():
            if ident == me:
                continue
            operation = _innermost(frame, running)
            if operation is not None:
                found.append((operation, _location(frame)))
        if not found:
            return
        with self._lock:
            samples = self._samples
            for operation, location in found:
                counts = samples.get(operation)
                if counts is None:
                    if len(samples) >= FOLLOWED:
                        continue
                    counts = samples[operation] = {}
                if location in counts or len(counts) < LOCATIONS:
                    counts[location] = counts.get(location, 0.0) + weight


def _innermost(frame: FrameType | None, running: dict[Any, Any]) -> Any:
    while frame is not None:
        operation = running.get(frame)
        if operation is not None:
            return operation
        frame = frame.f_back
    return None


def _location(frame: FrameType) -> Location:
    code = frame.f_code
    return str(frame.f_globals.get("__name__", "?")), getattr(code, "co_qualname", code.co_name), frame.f_lineno or 0


sampler = Sampler()
