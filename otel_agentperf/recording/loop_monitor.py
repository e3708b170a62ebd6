"""The asyncio loop monitor: measures how long each running event loop is held, and by what.

A watchdog thread looks at every registered loop every quarter of the blocking threshold and, when the
loop has run the previous one, schedules a callback on it (``call_soon_threadsafe``); how late the loop
runs it is the loop lag (``agentperf.event_loop.lag``). While that callback waits, each look notes which
callback the loop runs; one that has run past the threshold (by the time its thread had a CPU,
``run_queue.py``; then charged its wall time) holds the loop (a callback late behind many
short ones is a busy loop, measured as saturation below; a thread polling its selector holds nothing: the
process was not scheduled or another thread kept the interpreter), so the watchdog reads that thread's stack
(``sys._current_frames``): the running operations on it (found by the wrapper frames that run them,
``loop_clock.RUNNING_FRAMES``; never by reading that thread's frame locals) are charged the time since
the last look, the innermost first and none more than it has run, with where it blocked (:func:`_holder`); what no
operation covers is charged to that code, named ``module:function``. Nothing
runs on the loop's hot path: the loop runs one callback per look (a timer of its own would cost every
loop iteration two clock reads), and the stacks are read only while it is held. A block that starts
between the loop running a callback and the next being scheduled is charged from the scheduling: up to
one look short.

Saturation (docs/metrics.md, "Loop saturation"): at a look every :data:`SAMPLE_S` or more the watchdog
also notes whether the loop's thread was busy (anywhere but in its selector's ``select`` with nothing
ready), weighting the look by the time since the last one. A busy look is charged to the innermost
operation on the stack, else to the application code running (``module:function``), short callbacks
included; the operations whose tasks wait in the loop's ready queue (``loop._ready``, copied under the GIL)
are charged the same time as queued for their turn, when the window turns out saturated. A window of at
least :data:`WINDOW_S` of wall time whose running time (the wall time less what the loop's thread waited
for a CPU, ``run_queue.py``) was busy for :data:`SATURATED_SHARE` of it or more, mostly in short callbacks,
is saturated. Statistical, like any sampler: exact in the long run, a look's
time off per figure.

Loops are registered by the asyncio instrumentor (``BaseEventLoop.run_forever``). uvloop's loop runs
in C and is not seen. Operations in a thread pool (``run_in_executor``) do not hold the loop and are
never charged.
"""

from __future__ import annotations

import asyncio
import functools
import os
import selectors
import sys
import threading
from time import perf_counter
from types import FrameType
from typing import Any, NamedTuple

from opentelemetry.util.types import AttributeValue

from otel_agentperf.conventions import names
from otel_agentperf.recording import loop_clock, state
from otel_agentperf.recording.invocations import Invocation, Location
from otel_agentperf.recording.run_queue import RunQueue
from otel_agentperf.runtime import failures, forksafe, settings
from otel_agentperf.runtime.reentry import inside


@functools.cache
def _not_user_code() -> tuple[str, ...]:
    """Folders of code that is not the application's own (the standard library, installed packages, this
    package): where a block happened is the innermost frame outside them. Read at the first block."""
    import importlib.util
    import sysconfig

    folders = [sysconfig.get_paths().get(key) for key in ("stdlib", "platstdlib", "purelib", "platlib")]
    folders.append(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # otel_agentperf/
    spec = importlib.util.find_spec("otel_agentperf.instrumentation")  # a folder of its own when editable
    folders.extend((spec.submodule_search_locations or []) if spec is not None else [])
    return tuple({os.path.normcase(os.path.abspath(folder)) + os.sep for folder in folders if folder})


# The event loop's own frames: ``Handle._run`` runs one callback (a task's step, a future's done callback),
# where a callback's stack ends; ``_run_once`` picks the callbacks and polls the selector. What is outside a
# callback (the loop's own polling, ``run_forever``, ``asyncio.run``, the ``<module>`` that called it) is
# not code holding the loop, however it looks.
_CALLBACK = asyncio.events.Handle._run.__code__
_LOOP_STEP = asyncio.base_events.BaseEventLoop.__dict__["_run_once"].__code__
# The selectors' ``select``: a loop thread found in one is waiting for I/O, held by nothing on it.
_POLLING = frozenset(
    code
    for kind in vars(selectors).values()
    if isinstance(kind, type) and (code := getattr(kind.__dict__.get("select"), "__code__", None)) is not None
)
# Saturation looks are at most this often (the block looks, a quarter of the threshold, are more often): a
# look reads the loop thread's stack and its ready queue, about 50-230 us of the GIL at 50 tasks in operations.
SAMPLE_S = 0.02
WINDOW_S = 1.0  # a loop's saturation is judged over windows of at least this much wall time
SATURATED_SHARE = 0.9  # busy for this share of a window or more: the window is saturated
# The loop's own callbacks and the monitor's (reading its wake-up pipe, the monitor's callback): busy time of
# the loop, never a code row of the application's.
_OWN_PACKAGE = "otel_agentperf."
_OWN_MODULES = ("asyncio.", _OWN_PACKAGE)
_SDK_PACKAGE = "opentelemetry."  # the SDK's frames innermost are the package's work when the package called them
_READY_LIMIT = 1000  # ready callbacks looked at per look: a bound on the watchdog's work, never reached in practice
_CHAIN_LIMIT = 64  # awaits followed down one task's chain


class _Site(NamedTuple):
    """Where a loop was held: the function's qualified name, its file and line (for the operation's span
    event) and its module's dotted name (for code outside operations, never a machine path)."""

    function: str
    path: str
    line: int
    module: str
    stack: str = ""  # the call stack to it (:func:`_stack`), read only for an operation's first block

    @property
    def location(self) -> Location:
        return self.function, self.path, self.line, self.stack

    @property
    def name(self) -> str:
        """``module:function``: the same on every machine, and what an import or a search finds."""
        return f"{self.module}:{self.function}"


def _site(frame: FrameType) -> _Site:
    """The frame's function and module. The module's name is read from the frame's globals (its module's
    dictionary, never the frame's locals): the import name, or for a script run as ``__main__`` its
    ``-m`` name or its file's name; a frozen or generated module keeps its import name too."""
    code = frame.f_code
    function = str(getattr(code, "co_qualname", code.co_name))  # co_qualname: Python 3.11+
    module = frame.f_globals.get("__name__")
    if module == "__main__" or not isinstance(module, str):
        spec = frame.f_globals.get("__spec__")
        spec_name = getattr(spec, "name", None)
        module = spec_name if isinstance(spec_name, str) else os.path.splitext(os.path.basename(code.co_filename))[0]
    return _Site(function, code.co_filename, frame.f_lineno, module)


def _user_code(filename: str) -> bool:
    """Code the application wrote: a real file (not ``<frozen abc>``, not ``<string>`` such as a dataclass's
    generated ``__init__``) outside the standard library, installed packages and this package."""
    return not filename.startswith("<") and not os.path.normcase(filename).startswith(_not_user_code())


class _Watched:
    """One running loop: its thread, and when the monitor's timer on it is due."""

    __slots__ = (
        "attributes",
        "busy",
        "callback",
        "carried",
        "clock",
        "held",
        "holding",
        "holding_queue",
        "holding_since",
        "last",
        "long",
        "looked",
        "loop",
        "pending",
        "posted",
        "queue",
        "queued",
        "running",
        "sampled",
        "sampled_queue",
        "seen",
        "thread_id",
        "wall",
        "was_busy",
        "window_held",
    )

    def __init__(self, loop: Any, thread_id: int, native_id: int, thread_name: str) -> None:
        self.loop = loop
        self.thread_id = thread_id
        # What of a block, and of a saturation look's time, the loop's thread spent waiting for a CPU (the
        # block's, read at each look for the synchronous calls too: ``LoopClock.noted``).
        self.queue = RunQueue(native_id)
        self.sampled_queue = RunQueue(native_id)
        self.attributes = {names.THREAD_NAME: thread_name}  # what names the loop (bounded as it is recorded)
        self.sampled = perf_counter()  # the last look's time: the next look stands for the time since
        # The current saturation window: its running time, the part busy, and the part of that in one callback
        # the last look saw running too (a callback that long is a block of its own, not saturation).
        self.running = self.busy = self.long = 0.0
        self.wall = 0.0  # the window's wall time; ``running`` is that less the thread's waits for a CPU
        self.queued = 0.0  # and the seconds awaiting operations queued in it (each look's time, per operation)
        self.carried = 0.0  # the time of looks that landed in the selector with callbacks ready (below)
        self.callback: FrameType | None = None  # the callback frame the last look saw running, if any
        self.seen = 0.0  # the wall time of its closed windows in all
        self.was_busy = False  # what the last look found: busy, or idle in its selector
        # The looks since the monitor's callback was scheduled: their seconds and the operations queued then.
        self.pending: list[tuple[float, list[Invocation]]] = []
        # What the current window's looks charge each operation as queued: charged when the window closes
        # saturated (the time an operation waited for a saturated loop), dropped otherwise (a task that waits a
        # moment for its turn on a loop with time to spare is not slowed by the loop).
        self.held: dict[Invocation, float] = {}
        self.clock = loop_clock.register(loop)  # every block measured on it, for the tasks that waited
        self.window_held = self.clock.held  # its reading as the current saturation window began
        self.posted: float | None = None  # when the callback the loop has not run yet was scheduled
        self.looked = perf_counter()  # the last look's time
        # While that callback waits: the callback frame the loop was running at the last look, the look
        # before the one that first saw it (when it began, at the earliest), and the thread's run-queue time
        # then (nanoseconds): a callback holds the loop for what of that time the thread had a CPU.
        self.holding: FrameType | None = None
        self.holding_since = 0.0
        self.holding_queue = self.clock.noted = self.queue.read()
        # What the last look found holding the loop: the operations on its stack, innermost first, and
        # where.
        self.last: tuple[list[Invocation], _Site | None] | None = None


class LoopMonitor:
    """The watchdog thread and the loops it watches; started with the first loop."""

    def __init__(self) -> None:
        self._lock = forksafe.lock()
        self._loops: dict[int, _Watched] = {}
        self._thread: threading.Thread | None = None
        self._wake = threading.Event()  # a new loop is looked at now, not after the current wait

    def register(self, loop: Any) -> None:
        """``loop`` starts running on this thread."""
        loaded = settings.current()
        if not loaded.enabled or not loaded.loop_monitor:
            return
        with self._lock:
            self._loops[id(loop)] = _Watched(
                loop, threading.get_ident(), threading.get_native_id(), threading.current_thread().name
            )
            if self._thread is None or not self._thread.is_alive():  # first loop, or first after a fork
                self._thread = threading.Thread(target=self._run, name="otel-agentperf-loop-monitor", daemon=True)
                self._thread.start()
        self._wake.set()

    def unregister(self, loop: Any) -> None:
        with self._lock:
            entry = self._loops.pop(id(loop), None)
        loop_clock.unregister(loop)
        if entry is None:
            return
        # The time since the last look, as that look found the loop (busy or idle): a short-lived loop's running
        # time is its life, not its looks' (the last look can be up to SAMPLE_S before the loop stops).
        tail = max(perf_counter() - entry.sampled, 0.0)
        running = max(tail - entry.sampled_queue.since_mark(), 0.0)
        entry.queue.close()
        entry.sampled_queue.close()
        entry.wall += tail
        entry.running += running
        if entry.was_busy:
            entry.busy += running
        # The last, shorter window, judged alike when the loop ran whole windows before it: saturation is a
        # loop busy for a second or more, and a loop that lived less (a script's start, a short test) was busy
        # starting, not saturated.
        _close_window(entry, entry.wall if entry.seen >= WINDOW_S and _saturated(entry) else 0.0)

    def _run(self) -> None:
        inside.on = True  # this thread's calls into wrapped functions are the package's own
        while True:
            self._wake.wait(settings.current().loop_block_threshold_s / 4)
            self._wake.clear()
            try:
                with self._lock:
                    watched = list(self._loops.values())
                for entry in watched:
                    self._look(entry)
            except Exception as exc:
                failures.report("watching the event loop", exc)

    def _look(self, entry: _Watched) -> None:
        """From the watchdog: schedule the next callback, or, when the last one waits past the threshold,
        charge whatever holds the loop; then, every :data:`SAMPLE_S`, a saturation look (after the callback is
        scheduled, so its time never counts as the loop's lag)."""
        now = perf_counter()
        posted = entry.posted
        self._watch(entry, posted, now)
        if now - entry.sampled >= SAMPLE_S:
            seconds, queued = self._sample(entry, now)
            if queued and seconds > 0:
                entry.pending.append((seconds, queued))
        if posted is None:
            # The loop ran the last callback before a block was seen: the queues of the looks since it was
            # scheduled stand, and this look's too (its time is before the next callback was scheduled, which
            # is where a block's time on the loop's clock can begin).
            held = entry.held
            for part, operations in entry.pending:
                for operation in operations:
                    held[operation] = held.get(operation, 0.0) + part
            entry.pending.clear()
        elif entry.last is not None:
            entry.pending.clear()  # a block: the loop's clock counts these instants, for the tasks that waited

    def _watch(self, entry: _Watched, posted: float | None, now: float) -> None:
        """Schedule the next callback, or, while the last one waits, follow the callback the loop runs: one
        that has run past the threshold holds the loop, and is charged.

        A block is one callback running that long (a task's step calling synchronous code), seen on every
        look since: the same ``Handle._run`` frame. The monitor's callback can also wait that long behind many
        short callbacks, none of which held the loop: that is a busy loop (saturation, which the looks in
        :meth:`_sample` measure), not a block, and no callback is charged for it.
        """
        last_look, entry.looked = entry.looked, now
        # Where a synchronous call starting before the next look counts its thread's waits for a CPU from, and
        # a callback first seen running now counts them from.
        last_queue, last_ran = entry.clock.noted, entry.queue.ran
        entry.clock.noted = entry.queue.read()
        if posted is None:
            entry.posted = entry.clock.charged_until = now
            entry.holding = None
            try:
                entry.loop.call_soon_threadsafe(self._ran, entry)
            except RuntimeError:  # closed since it was registered
                self.unregister(entry.loop)
            return
        frame = sys._current_frames().get(entry.thread_id)
        # (The loop polling its selector is in no callback: the process was not scheduled, or another thread
        # kept the interpreter, and nothing on the loop holds it.)
        callback = _callback_frame(frame)
        if callback is None or callback is not entry.holding:
            # A new callback began after the last look (or none runs): what ran before it is over.
            entry.holding, entry.holding_since, entry.holding_queue = callback, last_look, last_queue
            if entry.last is not None:
                self._block_over(entry, last_look)
            return
        # A block by the time the thread had a CPU (a callback that ran 1 ms and waited 30 ms for a CPU on a
        # loaded machine is no blocker), as for a synchronous call (``Invocation._record_blocking``); charged
        # then its wall time, as the tasks awaiting on the loop lived it.
        threshold = settings.current().loop_block_threshold_s
        available = now - entry.holding_since - max(entry.clock.noted - entry.holding_queue, 0) / 1e9
        if available >= threshold and entry.queue.stalled(last_ran):  # a wait not yet counted: since the last
            available -= now - last_look  # look, at least
        if now - posted < threshold or available < threshold:
            return
        # The block began with its callback, or as the monitor's callback was scheduled, whichever was later.
        entry.clock.charged_until = max(entry.clock.charged_until, entry.holding_since)
        operations, where = self._holder(frame)
        if where is not None and operations and operations[0].needs_where():
            where = where._replace(stack=_stack(frame))
        self._charge(entry, operations, where, now)

    @staticmethod
    def _block_over(entry: _Watched, last_look: float) -> None:
        """The callback charged as a block has returned, and another runs: the block ended since the last
        look, which it is charged up to (the monitor's resolution). The next callback began after that look
        too: if it holds the loop past the threshold, its block is charged from there."""
        entry.last = None
        entry.clock.in_block = False
        entry.clock.charged_until = last_look

    def _sample(self, entry: _Watched, now: float) -> tuple[float, list[Invocation]]:
        """One look at the loop's thread for saturation: idle in its selector, or busy, and then on what; and
        the seconds of queueing the look stands for, with the operations that queued for their turn. Those
        are charged once the loop has run the monitor's callback without a block past the threshold
        (:meth:`_look`): the loop's clock measures a block, and the tasks waiting through it wait for a held
        loop (``Invocation._record_waiting``), not twice. A look stands for the time since the last one."""
        # What of that time the thread waited for a CPU is the machine's: neither busy nor idle (on a starved
        # machine a loop with time to spare is not saturated, and what the loop ran is what it had the CPU for).
        # A window is of wall time, so a starved loop's is judged as soon as an idle machine's.
        wall = now - entry.sampled
        weight = wall - entry.sampled_queue.since_mark()
        entry.sampled = now
        frame: FrameType | None = sys._current_frames().get(entry.thread_id)
        queued: list[Invocation] = []
        if frame is None or wall <= 0:
            return 0.0, queued
        entry.wall += wall
        weight = max(weight, 0.0)
        entry.running += weight
        callback = None
        share = 0.0
        # In its selector with callbacks ready, the loop only polls (a zero timeout) between busy iterations:
        # busy. A thread waiting for the GIL takes it as the loop enters a system call, so looks land there
        # more often than the loop spends there, when its ready queue is at its longest: such a look's
        # queueing goes to the next look that finds the loop in a callback.
        polling = frame.f_code in _POLLING
        entry.was_busy = not polling or bool(getattr(entry.loop, "_ready", None))
        if entry.was_busy:
            entry.busy += weight
        if polling:
            entry.carried = entry.carried + wall if getattr(entry.loop, "_ready", None) else 0.0
        else:
            # The tasks in the ready queue waited the look's wall time for their turn, the machine's part
            # included: a saturated loop's queue does not move while its thread waits for a CPU.
            share, entry.carried = wall + entry.carried, 0.0
            operations, where, callback, own = self._walk(frame)
            if callback is not None and callback is entry.callback:
                entry.long += weight
            # A look at the package's own work is busy time, in the report's own-cost line: no one's consumption.
            if not own and operations:
                operations[0].consumed(weight)
            elif not own and not operations and where is not None and not where.module.startswith(_OWN_MODULES):
                telemetry = state.telemetry()
                code = telemetry.bounds.metric_attributes({names.CODE_FUNCTION: where.name})
                telemetry.recorder.event_loop_consumed(weight, code, None)
            queued = _queued(entry.loop)
            entry.queued += share * len(queued)
        entry.callback = callback
        if entry.wall >= WINDOW_S:
            _close_window(entry, entry.wall if _saturated(entry) else 0.0)
        return share, queued

    def _charge(self, entry: _Watched, operations: list[Invocation], where: _Site | None, now: float) -> None:
        """The time since the last charge, to the innermost operation as far back as it has run, then to
        the ones around it; what none of them covers, to the application code outside operations. Wall time:
        what the tasks awaiting on the loop lost, its thread's waits for a CPU during the block included (the
        block was judged one without them, in :meth:`_watch`)."""
        seconds = now - entry.clock.charged_until
        entry.clock.charged_until = now
        entry.clock.held += seconds
        entry.clock.since, entry.clock.in_block = now, True
        entry.last = (operations, where)
        covered = 0.0
        for operation in operations:
            part = min(seconds, operation.age(now)) - covered
            if part > 0:
                if covered == 0:  # the innermost: where is its own
                    operation.blocked(part, where.location if where is not None else None)
                else:
                    operation.blocked(part, None)
                covered += part
        rest = seconds - covered
        if operations and 0 < rest <= settings.current().loop_block_threshold_s / 4:
            # Less than one look before the outermost operation started: the timer's own jitter.
            operations[-1].blocked(rest, None)
            return
        if rest <= 0 or where is None or where.module.startswith(_OWN_MODULES):
            # The loop's own machinery or the monitor's callback: held, but by no code of the application's.
            return
        telemetry = state.telemetry()
        # The file's path only when the user opted in to paths (as for config and history files): a row
        # named by a machine's folders differs per machine and says where the code was deployed.
        code: dict[str, AttributeValue] = {names.CODE_FUNCTION: where.name}
        if settings.current().capture_file_paths:
            code[names.CODE_FILE_PATH] = where.path
        telemetry.recorder.event_loop_blocked(rest, telemetry.bounds.metric_attributes(code), None)

    def _ran(self, entry: _Watched) -> None:
        """On the loop: the monitor's callback ran; how late is the lag, and a block ends here."""
        now = perf_counter()
        was, inside.on = inside.on, True
        try:
            lag = now - (entry.posted or now)
            telemetry = state.telemetry()
            telemetry.recorder.event_loop_lag(max(lag, 0.0))
            if lag >= telemetry.block_threshold and entry.last is not None:
                operations, where = entry.last
                if operations:  # the block's last part, since the last look: what held it then (ended or not),
                    # up to its end (the code after it in the same step ran on into the next operation, whose
                    # start read the clock as held to then); a synchronous call that ended has charged itself
                    # (and the clock) up to its end already
                    holder = operations[0]
                    until = holder.ended_by(now)
                    # (no read of the run queue here, on the loop's thread: the part is at most one look)
                    part = until - entry.clock.charged_until
                    entry.clock.held += holder.blocked(max(part, 0.0), None)
                    entry.clock.charged_until = now
                else:
                    self._charge(entry, operations, where, now)
        except Exception as exc:
            failures.report("recording event-loop lag", exc)
        finally:
            inside.on = was
            entry.last = None
            entry.posted = None
            entry.clock.in_block = False

    def _holder(self, frame: FrameType | None) -> tuple[list[Invocation], _Site | None]:
        """:meth:`_walk` without the callback's frame."""
        operations, where, _, _ = self._walk(frame)
        return operations, where

    def _walk(self, frame: FrameType | None) -> tuple[list[Invocation], _Site | None, FrameType | None, bool]:
        """The running operations on the loop thread's stack (``frame``, its innermost), innermost first,
        where the loop is held, the frame of the callback the loop runs (None outside one), and whether the
        innermost frames run this package's work for a call the code around them made (starting or ending
        another operation: a saturation look there is the package's cost, which the report gives as its own,
        not the work of the operation whose code made the call). The package's frames right above an
        operation's own frame are that operation starting or ending: its own cost, charged to it.

        Where: walking out from the innermost frame, within the callback the loop runs (up to its own
        frames), the nearest frame of the application's code; library frames inside it (the standard
        library, ``<frozen ...>``, ``<string>``, installed packages) stand for the application frame that
        called them. A callback with no application frame is named by its innermost frame of a real module.
        Frames outside the callback (the ``<module>`` that called ``asyncio.run``) never hold the loop:
        outside a callback (the loop polling its selector) or with no loop frame on the stack, no code is
        named.
        """
        user: _Site | None = None
        library: _Site | None = None
        callback: bool | None = None  # inside a callback the loop runs: unknown until a loop frame is met
        running: FrameType | None = None
        operations: list[Invocation] = []
        # Above the innermost operation's frame, innermost first: the SDK's frames (whoever called them), then
        # this package's (``phase`` 1), then other code's: the package's work for a call that code made.
        phase = 0
        own = False
        while frame is not None:
            code = frame.f_code
            invocation = loop_clock.RUNNING_FRAMES.get(frame)
            if invocation is not None:
                if isinstance(invocation, Invocation) and invocation.running():
                    operations.append(invocation)
            elif not operations and phase < 2:
                module = str(frame.f_globals.get("__name__"))
                if module.startswith(_OWN_PACKAGE):
                    phase = 1
                elif not module.startswith(_SDK_PACKAGE):
                    own, phase = phase == 1, 2
            if invocation is None and callback is None:
                if code is _CALLBACK or code is _LOOP_STEP:
                    callback = code is _CALLBACK
                    running = frame if callback else None
                elif user is None and _user_code(code.co_filename):
                    user = _site(frame)
                elif user is None and library is None and not code.co_filename.startswith("<"):
                    library = _site(frame)  # a module with a name (not generated code's "<string>")
            frame = frame.f_back
        if not callback:  # the loop's own work, or no loop running on the stack: no code holds it
            return operations, None, None, own
        return operations, user or library, running, own


def _stack(frame: FrameType | None) -> str:
    """The call stack inside the callback the loop runs, outermost call first, one ``module:function:line``
    per line (``names.CODE_STACKTRACE``): the application's frames, and of each run of library frames the
    one the application called (``json:loads``, ``time:sleep`` is C and has none); this package's frames
    are left out. At most ``names.STACK_LIMIT`` lines, the innermost."""
    lines: list[str] = []
    called: str | None = None  # the outermost library frame of the run being walked out of
    while frame is not None and len(lines) < names.STACK_LIMIT:
        code = frame.f_code
        if code is _CALLBACK or code is _LOOP_STEP:
            break
        site = _site(frame)
        if _user_code(code.co_filename):
            if called is not None:
                lines.append(called)
                called = None
            lines.append(f"{site.name}:{site.line}")
        elif not site.module.startswith(_OWN_PACKAGE) and not code.co_filename.startswith("<"):
            called = f"{site.name}:{site.line}"
        frame = frame.f_back
    return "\n".join(reversed(lines))


def _callback_frame(frame: FrameType | None) -> FrameType | None:
    """The frame of the callback the loop runs (``Handle._run``) on a stack whose innermost frame is
    ``frame``; None when the loop runs none (it polls its selector, or no loop runs there)."""
    while frame is not None:
        code = frame.f_code
        if code is _CALLBACK:
            return frame
        if code is _LOOP_STEP:
            return None
        frame = frame.f_back
    return None


def _saturated(entry: _Watched) -> bool:
    """The window was busy for :data:`SATURATED_SHARE` of it or more, at most half of that in long
    callbacks: blocks (what the loop's clock counted in the window: the monitor's and the synchronous calls'
    own) and callbacks seen running on two saturation looks in a row. Many short callbacks, not long ones
    (a block has its own sentence, which names the blocker and what the others waited)."""
    blocks = entry.clock.held - entry.window_held
    return entry.busy >= SATURATED_SHARE * entry.running and entry.long + blocks <= entry.busy / 2


def _close_window(entry: _Watched, saturated: float) -> None:
    """Record a window of the loop's wall time: how long, how much of it busy, ``saturated`` (all or none),
    and when it was, the operations' time queued in it."""
    held, entry.held = entry.held, {}
    if saturated:
        for operation, seconds in held.items():
            operation.queued(seconds)
    telemetry = state.telemetry()
    attributes = telemetry.bounds.metric_attributes(entry.attributes)
    # In wall time, as the tasks lived it: the busy share is the running time's (what the loop did when its
    # thread had a CPU), over the window's wall time.
    busy = entry.busy * entry.wall / entry.running if entry.running > 0 else 0.0
    telemetry.recorder.event_loop_window(entry.wall, busy, saturated, entry.queued, attributes)
    entry.seen += entry.wall
    entry.window_held = entry.clock.held
    entry.running = entry.busy = entry.long = entry.queued = entry.wall = 0.0


def _queued(loop: Any) -> list[Invocation]:
    """The innermost running operation of each task waiting in ``loop``'s ready queue: a task's step or
    wake-up callback is bound to the task (``__self__``), and its chain of awaits (``cr_await``,
    ``gi_yieldfrom``) holds the wrapper frames of the operations it is inside."""
    running = loop_clock.RUNNING_FRAMES
    found: list[Invocation] = []
    ready = getattr(loop, "_ready", None)
    if not running or ready is None:
        return found
    for handle in list(ready)[:_READY_LIMIT]:  # a C-level copy: the loop's thread cannot change it meanwhile
        task = getattr(getattr(handle, "_callback", None), "__self__", None)
        if not isinstance(task, asyncio.Task):
            continue
        awaiting: Any = task.get_coro()
        innermost = None
        for _ in range(_CHAIN_LIMIT):
            frame = getattr(awaiting, "cr_frame", None) or getattr(awaiting, "gi_frame", None)
            if frame is None:
                break
            operation = running.get(frame)
            if isinstance(operation, Invocation) and operation.running():
                innermost = operation
            following = getattr(awaiting, "cr_await", None)
            awaiting = following if following is not None else getattr(awaiting, "gi_yieldfrom", None)
        if innermost is not None:
            found.append(innermost)
    return found


monitor = LoopMonitor()
