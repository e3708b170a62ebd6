"""The asyncio loop monitor: measures how long each running event loop is held, and by what.

A watchdog thread schedules a callback on every registered loop (``call_soon_threadsafe``) and notes how
late the loop runs it: that lateness is the loop lag (``agentperf.event_loop.lag``). While a callback is
pending past the blocking threshold the loop is held by whatever runs on its thread, so the watchdog
looks at that thread's stack (``sys._current_frames``) every quarter of the threshold: the innermost
running operation on it (found by the wrapper frames that hold it) is charged the time since the last
look, with the innermost frame of the application's own code as where it blocked. A block outside any
operation is charged to that location. Nothing runs on the loop's hot path: the loop sees one callback
per look, and the stacks are read only while it is blocked.

Loops are registered by the asyncio instrumentor (``BaseEventLoop.run_forever``). uvloop's loop runs
in C and is not seen. Operations in a thread pool (``run_in_executor``) do not hold the loop and are
never charged.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import sys
import sysconfig
import threading
from time import perf_counter
from types import CodeType, FrameType
from typing import Any

from otel_agentperf.conventions import names
from otel_agentperf.recording import state
from otel_agentperf.recording.invocations import Invocation, Location
from otel_agentperf.runtime import failures, forksafe, settings
from otel_agentperf.runtime.reentry import inside

# Code objects of the wrapper frames that hold a running operation in their local ``invocation``.
OPERATION_FRAMES: set[CodeType] = set()


@functools.cache
def _not_user_code() -> tuple[str, ...]:
    """Folders of code that is not the application's own (the standard library, installed packages, this
    package): where a block happened is the innermost frame outside them. Read at the first block."""
    folders = [sysconfig.get_paths().get(key) for key in ("stdlib", "platstdlib", "purelib", "platlib")]
    folders.append(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # otel_agentperf/
    spec = importlib.util.find_spec("otel_agentperf.instrumentation")  # a folder of its own when editable
    folders.extend((spec.submodule_search_locations or []) if spec is not None else [])
    return tuple({os.path.normcase(os.path.abspath(folder)) + os.sep for folder in folders if folder})


def operation_frames(*codes: CodeType) -> None:
    """Register the code of the wrapper functions whose frames hold the operation they record (``invocation``)."""
    OPERATION_FRAMES.update(codes)


class _Watched:
    """One running loop: its thread, and the monitor's callback scheduled on it, if any."""

    __slots__ = ("charged_until", "last", "loop", "posted", "thread_id")

    def __init__(self, loop: Any, thread_id: int) -> None:
        self.loop = loop
        self.thread_id = thread_id
        self.posted: float | None = None  # when the pending callback was scheduled
        self.charged_until = 0.0  # blocked time up to here is charged already
        # What the last look found holding the loop: the operation, and where in the application's code.
        self.last: tuple[Invocation | None, Location | None] | None = None


class LoopMonitor:
    """The watchdog thread and the loops it watches; started with the first loop."""

    def __init__(self) -> None:
        self._lock = forksafe.lock()
        self._loops: dict[int, _Watched] = {}
        self._thread: threading.Thread | None = None
        self._wake = threading.Event()

    def register(self, loop: Any) -> None:
        """``loop`` starts running on this thread."""
        loaded = settings.current()
        if not loaded.enabled or not loaded.loop_monitor:
            return
        with self._lock:
            self._loops[id(loop)] = _Watched(loop, threading.get_ident())
            if self._thread is None or not self._thread.is_alive():  # first loop, or first after a fork
                self._thread = threading.Thread(target=self._run, name="otel-agentperf-loop-monitor", daemon=True)
                self._thread.start()

    def unregister(self, loop: Any) -> None:
        with self._lock:
            self._loops.pop(id(loop), None)

    def _run(self) -> None:
        inside.on = True  # this thread's calls into wrapped functions are the package's own
        while True:
            interval = settings.current().loop_block_threshold_s / 4
            self._wake.wait(interval)
            try:
                with self._lock:
                    watched = list(self._loops.values())
                for entry in watched:
                    self._look(entry)
            except Exception as exc:
                failures.report("watching the event loop", exc)

    def _look(self, entry: _Watched) -> None:
        now = perf_counter()
        if entry.posted is None:
            entry.posted = now
            entry.charged_until = now
            try:
                entry.loop.call_soon_threadsafe(self._ran, entry, now)
            except RuntimeError:  # closed between registering and now
                self.unregister(entry.loop)
            return
        threshold = settings.current().loop_block_threshold_s
        if now - entry.posted < threshold:
            return
        self._charge(entry, *self._holder(entry.thread_id), now)

    def _charge(self, entry: _Watched, operation: Invocation | None, where: Location | None, now: float) -> None:
        seconds = now - entry.charged_until
        entry.charged_until = now
        entry.last = (operation, where)
        if seconds <= 0:
            return
        if operation is not None:
            operation.blocked(seconds, where)
            return
        if where is None:
            return
        telemetry = state.telemetry()
        function, path, _line = where
        attributes = telemetry.bounds.metric_attributes({names.CODE_FUNCTION: function, names.CODE_FILE_PATH: path})
        telemetry.recorder.event_loop_blocked(seconds, attributes, None)

    def _ran(self, entry: _Watched, posted: float) -> None:
        """On the loop: the monitor's callback ran; the lag is how late, and a block ends here."""
        now = perf_counter()
        was, inside.on = inside.on, True
        try:
            telemetry = state.telemetry()
            telemetry.recorder.event_loop_lag(now - posted)
            if now - posted >= telemetry.block_threshold and entry.last is not None:
                operation, where = entry.last
                if operation is None or operation.running():
                    self._charge(entry, operation, where, now)  # the end of the block, since the last look
        except Exception as exc:
            failures.report("recording event-loop lag", exc)
        finally:
            inside.on = was
            entry.posted = None
            entry.last = None

    def _holder(self, thread_id: int) -> tuple[Invocation | None, Location | None]:
        """The innermost running operation on the loop's thread, and the innermost application frame."""
        frame: FrameType | None = sys._current_frames().get(thread_id)
        where: Location | None = None
        not_user_code = _not_user_code()
        while frame is not None:
            code = frame.f_code
            if code in OPERATION_FRAMES:
                invocation = frame.f_locals.get("invocation")
                if isinstance(invocation, Invocation) and invocation.running():
                    return invocation, where
            elif where is None and not os.path.normcase(code.co_filename).startswith(not_user_code):
                function = str(getattr(code, "co_qualname", code.co_name))  # co_qualname: Python 3.11+
                where = (function, code.co_filename, frame.f_lineno)
            frame = frame.f_back
        return None, where


monitor = LoopMonitor()
