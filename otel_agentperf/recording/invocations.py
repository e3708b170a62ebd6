"""One running operation, one type per kind that measures something of its own.

:class:`Invocation` is what every operation has: its span, its duration and self time, its error and
its memory. :class:`LLMInvocation` adds usage, cost and chunk timing; :class:`AgentInvocation` counts the
LLM and tool calls made inside it; :class:`HistoryInvocation` the store's size. They measure; the
:class:`~otel_agentperf.recording.recorder.Recorder` records.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Callable, Mapping
from time import perf_counter, thread_time_ns
from typing import Any, NamedTuple, Protocol

from opentelemetry import context as otel_context
from opentelemetry.context import Context
from opentelemetry.trace import Span, Status, StatusCode
from opentelemetry.util.types import AttributeValue

from otel_agentperf.conventions import names
from otel_agentperf.conventions.instruments import Instruments
from otel_agentperf.recording import cpu_sampler, critical_path, keep_hints, loop_clock, prices, run_queue
from otel_agentperf.recording.bounded import BoundedValues, Bounds
from otel_agentperf.recording.loop_clock import LoopClock
from otel_agentperf.recording.memory import MemoryProbe
from otel_agentperf.recording.operations import Operation
from otel_agentperf.recording.recorder import Recorder
from otel_agentperf.recording.slow_log import SlowLog
from otel_agentperf.runtime import failures
from otel_agentperf.runtime.reentry import inside

Attributes = Mapping[str, AttributeValue]
_LEAST_WAIT = 0.001
# Called with the invocation (of its operation's kind) and the call's return value or a yielded item.
ResultHook = Callable[[Any, object], None]

# Chunk timings recorded together once the stream has named its model: so many that the SDK's work for
# them runs warm (one at a time, between the SDK's parsing of each chunk, costs twice as much), so few that
# no read of a stream waits long for them (a 2,000-chunk stream recorded at its end held its last read 30 ms).
_CHUNK_BATCH = 64
_HOTSPOTS = 5  # code locations recorded per operation instance the CPU sampler found running
_HOTSPOT_EVENT_SECONDS = 0.05  # seconds sampled running that earn an instance its span event of hotspots
# Where an operation stands on a critical path (``Invocation._request``; 0: nowhere, folded into another).
_INSIDE = 1  # inside a request
_REQUEST = 2  # a request: the outermost agent, workflow or segment
_OUTSIDE = 3  # outside any request: on the process's path (``critical_path.ProcessPath``)

# Children of one operation that can run at the same time as their siblings: what each waits on is
# elsewhere (a model, a tool's service). A run of one family is one turn's work: a model call's answer
# decides what the tools after it do, and their results what the next model call is asked.
_IO_FAMILIES: Mapping[str, str] = {
    names.KIND_LLM: names.KIND_LLM,
    names.KIND_TOOL: names.KIND_TOOL,
    names.KIND_MCP: names.KIND_TOOL,
}
# The most a parent may run between two calls for them to count as one after another with no work of its
# own between them (the instrumentation's own work between them is left out of this gap).
SEQUENTIAL_GAP = 0.002
# Argument digests a request keeps, and conversations followed at once: bounded whatever the app does.
_SEEN_LIMIT = 4096
_CONVERSATION_LIMIT = 1024
# (conversation id, request model) -> (turns so far, first turn's input tokens, first turn's seconds)
Turns = dict[tuple[str, str], tuple[int, int, float]]
_CONVERSATIONS: Turns = {}

# OTLP carries integers as int64: a usage count outside it (or not a whole number) is not a token count.
_MAX_TOKENS = 2**63 - 1


class Telemetry(Protocol):
    """What an invocation records through: the handler that started it (``recording.telemetry``)."""

    recorder: Recorder
    instruments: Instruments
    bounds: Bounds
    error_types: BoundedValues
    memory: MemoryProbe | None
    block_threshold: float  # seconds an operation must hold the event loop to count as blocking it
    recent: keep_hints.RecentLatency  # each request name's recent durations, for the keep hint ``slow``
    keep_cost: float  # US dollars a request must cost past for the keep hint ``costly``
    slow: SlowLog
    process: critical_path.ProcessPath  # the caller of operations outside any request


# Where a blocked event loop was held: (code.function.name, code.file.path, code.line.number,
# code.stacktrace: empty when not read).
Location = tuple[str, str, int, str]


def token_count(value: object) -> int | None:
    """A provider-reported token count, or None (and one warning) when it cannot be one."""
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= _MAX_TOKENS:
        return value
    failures.warn_once("usage", "otel-agentperf: ignoring a token count that is not a count in range: %r", value)
    return None


class Attempt(NamedTuple):
    """One HTTP request of an LLM call: when it started and ended, and its status or error."""

    started: float
    ended: float
    reason: Mapping[str, AttributeValue]


def error_type(exc: BaseException) -> str:
    """The exception's class name, as the conventions ask for ``error.type``."""
    return type(exc).__qualname__


class Invocation:
    """One running operation. :meth:`end` is safe to call more than once; only the first counts.

    An operation folded into an outer one of its kind (``outer``) records nothing itself: what it learns
    goes to the outer operation.
    """

    __slots__ = (
        "_attributes",
        "_blocked",
        "_call_starved",
        "_chain",
        "_children",
        "_consumed",
        "_cost",
        "_counts_call",
        "_deferred",
        "_duration",
        "_enclosing",
        "_ended",
        "_failure",
        "_fingerprint",
        "_follows",
        "_frame",
        "_held",
        "_held_at_start",
        "_hints",
        "_metric_attributes",
        "_noted",
        "_on_item",
        "_on_loop",
        "_on_result",
        "_operation",
        "_outer",
        "_path",
        "_path_before",
        "_pending",
        "_protocol_attributes",
        "_queued",
        "_request",
        "_root",
        "_seen",
        "_sequential",
        "_snapshot",
        "_started",
        "_started_ns",
        "_step_frame",
        "_telemetry",
        "_token",
        "_turns",
        "_waits_on",
        "_where",
        "context",
        "own_ns",
        "span",
    )

    def __init__(
        self,
        telemetry: Telemetry,
        operation: Operation,
        span: Span,
        *,
        span_attributes: Attributes,
        metric_attributes: Attributes,
        on_result: ResultHook | None = None,
        on_item: ResultHook | None = None,
        enclosing: Invocation | None = None,
        snapshot: tuple[int, int] | None = None,
        outer: Invocation | None = None,
        on_loop: bool | None = None,
        steps: bool = False,
        waits_on: LoopClock | None = None,
        started: tuple[int, float] | None = None,
    ) -> None:
        self._telemetry = telemetry
        self._operation = operation
        self.own_ns = 0  # the sampled start's own nanoseconds (recording/overhead.py); 0: not sampled
        self.span = span
        self.context: Context = outer.context if outer is not None else Context()
        self._token: object = None
        self._attributes = span_attributes
        self._metric_attributes = metric_attributes
        self._on_result = on_result
        self._on_item = on_item
        self._enclosing = enclosing
        self._snapshot = snapshot
        self._outer = outer
        self._deferred = False
        # For a synchronous call or generator, whether its thread runs an event loop (its code then holds the
        # loop while it runs); None for a coroutine or an async generator, which give the loop back at each await.
        self._on_loop = on_loop
        # Seconds its own code ran synchronously on the loop's thread: a call until it returned (not the
        # stream it may return, read later, awaiting), and each step of a stream or generator as it ran.
        self._held = 0.0
        self._counts_call = bool(on_loop) and not steps  # a call holds the loop from its start to its return
        # For such a call, its loop thread's run-queue time as the monitor last read it, at most a look before
        # the call started; and, for a call that ran past the threshold, the seconds its thread waited for a
        # CPU meanwhile (the machine's, not its code's: no part of whether it blocked the loop).
        self._noted = loop_clock.noted() if self._counts_call else 0
        self._call_starved = 0.0
        # An awaiting operation on a watched loop: the loop's clock, and what it read as this one started.
        self._waits_on = waits_on
        self._held_at_start = waits_on.reading() if waits_on is not None else 0.0
        self._blocked = 0.0  # seconds the loop monitor saw this operation hold the loop
        # Loop saturation (the monitor's looks): seconds it was seen running on its loop, and seconds it was
        # ready to go on but queued behind other callbacks there.
        self._consumed = 0.0
        self._queued = 0.0
        self._where: Location | None = None
        self._failure: BaseException | str | None = None
        # Span attributes learnt after the start, set in one call as the operation finishes.
        self._pending: dict[str, AttributeValue] = {}
        # What the call adds to its protocol metric's attributes (an MCP session's transport and server);
        # made only for the calls that have some, off every other operation's path.
        self._protocol_attributes: dict[str, AttributeValue] | None = None
        # What each operation it called measured, as it finished (append is thread-safe): (duration, seconds it
        # waited for a loop others held, seconds it and its own callees held the loop), for the self figures.
        self._children: list[tuple[float, float, float]] = []
        # Keep hints (``keep_hints``): what it and its callees flagged (error, retried, held the loop) and what
        # their model calls cost, handed to the operation that called it as it finishes.
        self._hints = 0
        self._cost = 0.0
        self._duration = 0.0  # set as it finishes, before ``_started`` is cleared
        self._ended: float | None = None  # when it finished (``perf_counter``)
        self._frame: object = None  # the wrapper frame that runs it, noted for the loop monitor
        self._step_frame: object = None  # the frame running a step of what it streams, likewise
        # When it started: (epoch nanoseconds, its span's start; ``perf_counter`` seconds), read together.
        self._started_ns, at = started if started is not None else (0, perf_counter())
        self._started: float | None = at
        # The critical path (``critical_path``): whether this operation is inside a request (1), a request (2:
        # the outermost agent, workflow or segment), outside any (3: on the process's path, the request of a
        # process that makes none) or none of those (0: folded into another, nothing to compute); its path up
        # to the end of the callee that finished last, and its caller's path as this one started (what it
        # extends as it ends).
        above = enclosing._request if enclosing is not None else _OUTSIDE
        self._request: int = (
            _INSIDE
            if above in (_INSIDE, _REQUEST)
            else _REQUEST
            if operation.kind in names.REQUEST_KINDS and outer is None
            else _OUTSIDE
            if above == _OUTSIDE and outer is None
            else 0
        )
        self._path: critical_path.Node | None = None
        if self._request in (_INSIDE, _OUTSIDE):
            if enclosing is not None:
                self._path_before = enclosing._path
            else:
                process = telemetry.process
                self._path_before = process._path
                process.began(at)
        else:
            self._path_before = None
        # The request it is part of (itself, for a request), whose argument digests find repeated calls.
        self._root: Invocation | None = (
            enclosing._root
            if enclosing is not None and above in (_INSIDE, _REQUEST)
            else self
            if self._request == _REQUEST
            else None
        )
        self._seen: dict[int, None] | None = None  # a request's: digests of the calls made in it so far
        self._fingerprint: int | None = None  # a tool's or model call's arguments, digested
        # The run of I/O-bound children it is awaiting one after another: (when the last ended, their seconds,
        # the longest's, how many, their family); the runs so far: [calls, seconds, recoverable seconds].
        self._chain: tuple[float, float, float, int, str] | None = None
        self._sequential: list[float] | None = None
        self._follows = False  # it depends on an earlier call of its parent's (a later turn of a conversation)
        self._turns: Turns | None = None  # an agent run's or a request's model conversations, by model

    def _record_hotspots(self, hot: dict[cpu_sampler.Location, float], attributes: Attributes) -> None:
        """Where the sampler found this operation running: the top locations' seconds, and on an instance
        sampled long enough (the slow ones), a span event with their shares."""
        total = sum(hot.values())
        top = sorted(hot.items(), key=lambda item: -item[1])[:_HOTSPOTS]
        recorder, kind = self._telemetry.recorder, self._operation.kind
        for (module, function, line), seconds in top:
            recorder.cpu_sampled(kind, f"{module}:{function}", line, seconds, attributes)
        if total >= _HOTSPOT_EVENT_SECONDS:
            self.span.add_event(
                names.CPU_HOTSPOTS_EVENT,
                {
                    names.CPU_SAMPLED: total,
                    names.CODE_FUNCTION: [f"{module}:{function}" for (module, function, _), _ in top],
                    names.CODE_LINE_NUMBER: [line for (_, _, line), _ in top],
                    names.CPU_SHARE: [count / total for _, count in top],
                },
            )

    @property
    def kind(self) -> str:
        return self._operation.kind

    def age(self, now: float) -> float:
        """Seconds since it started (``now`` from ``perf_counter``); 0 once finished."""
        started = self._started
        return 0.0 if started is None else now - started

    def runs_in(self, frame: object) -> None:
        """The wrapper frame ``frame`` runs this operation: the loop monitor finds it there on a stack."""
        self._frame = frame
        loop_clock.RUNNING_FRAMES[frame] = self

    def steps_in(self, frame: object) -> None:
        """A step of what this operation streams runs in ``frame`` (None: the step is over): while it runs,
        the loop monitor finds the operation there, as it finds a call in its wrapper's frame."""
        if frame is None:
            loop_clock.RUNNING_FRAMES.pop(self._step_frame, None)
            self._step_frame = None
        elif loop_clock.watching() and self._started is not None:
            self._step_frame = frame
            loop_clock.RUNNING_FRAMES[frame] = self

    def in_request(self) -> bool:
        """Part of a request: what repeats within it can be found."""
        return self._root is not None

    def note_call(self, fingerprint: int | None) -> None:
        """The digest of this call's arguments (``recording.fingerprints``); a folded call's is its outer one's."""
        target = self._outer or self
        if fingerprint is not None and target._fingerprint is None:
            target._fingerprint = fingerprint

    def ended_by(self, now: float) -> float:
        """When it finished (``perf_counter``), or ``now`` while it runs: where a block it held can end."""
        ended = self._ended
        return now if ended is None else min(ended, now)

    def running(self) -> bool:
        """Started, not finished, and not folded into another: it can take what an inner one learns."""
        return self._started is not None

    def attach(self) -> None:
        """Make this operation's context current until it ends."""
        self._token = otel_context.attach(self.context)

    def add_attributes(self, attributes: Attributes | None, metric_attributes: Attributes | None = None) -> None:
        """Add what is learnt during the call; an operation's own attributes are never overwritten."""
        target = self._outer or self
        new_span = {
            key: value
            for key, value in {**(metric_attributes or {}), **(attributes or {})}.items()
            if key not in target._attributes
        }
        if new_span:
            target._attributes = {**target._attributes, **new_span}
            target._pending.update(new_span)
        if metric_attributes:
            new = {
                key: value
                for key, value in target._telemetry.bounds.metric_attributes(metric_attributes).items()
                if key not in target._metric_attributes
            }
            if new:
                target._metric_attributes = {**target._metric_attributes, **new}

    def add_protocol_attributes(self, attributes: Attributes) -> None:
        """Attributes of this call's protocol metric only (``Operation.protocol``), bounded as it is recorded."""
        if self._protocol_attributes is None:
            self._protocol_attributes = {}
        self._protocol_attributes.update(attributes)

    def blocked(self, seconds: float, where: Location | None) -> float:
        """The loop monitor saw this operation hold its event loop for ``seconds`` more (at ``where``);
        returns the part charged.

        Never more in all than it has run: the monitor sees a block's edges up to one look late. Recorded as
        the operation finishes, under the attributes it finishes with (a model call learns its model late),
        or at once when it has finished already; a folded operation's block is its outer operation's.
        """
        if self._outer is not None:
            return self._outer.blocked(seconds, where)
        started = self._started
        ran = perf_counter() - started if started is not None else self._duration
        seconds = min(seconds, ran - self._blocked)
        if seconds <= 0:
            return 0.0
        self._blocked += seconds
        if self._where is None:
            self._where = where
        if started is None:
            self._telemetry.recorder.event_loop_blocked(seconds, self._metric_attributes, self._operation.kind)
        return seconds

    def needs_where(self) -> bool:
        """Whether the loop monitor has yet to say where it held its loop (only the first block's place is
        kept: reading its whole stack is for that one)."""
        return (self._outer or self)._where is None

    def consumed(self, seconds: float) -> None:
        """The loop monitor saw this operation's code running on its loop for ``seconds`` (a look's share)."""
        target = self._outer or self
        if target._started is None:
            target._telemetry.recorder.event_loop_consumed(seconds, target._metric_attributes, target.kind)
        else:
            target._consumed += seconds

    def queued(self, seconds: float) -> None:
        """The loop monitor saw this operation's task ready, queued behind other callbacks, for ``seconds``."""
        target = self._outer or self
        if target._started is None:
            target._telemetry.recorder.event_loop_queued(seconds, target._metric_attributes, target.kind)
        else:
            target._queued += seconds

    def hold(self, seconds: float) -> None:
        """Its own code ran synchronously for ``seconds`` more (a step of the stream or generator it reads):
        on an event loop's thread, that held the loop."""
        if self._on_loop:
            self._held += seconds

    def fail(self, error: BaseException | str) -> None:
        """The call returned, but what it returned is a failure; or its protocol names the failure.

        An exception (an HTTP response whose body will not parse): the operation ends as an error of that
        type. A string is the ``error.type`` itself: for a result that reports a failure without raising
        (an MCP tool result with ``isError``), or a protocol's own code for the exception the call then
        raises (a JSON-RPC error code), named instead of the exception's class.
        """
        self._failure = error

    def defer(self) -> None:
        """Called by a result hook: the call returned but the operation goes on (a stream being read).

        The span stops being current now; :meth:`finish` records the operation later. A synchronous call on
        a loop's thread held the loop until it returned; what it returned (a stream, a stream manager) is
        read from then on between awaits, so from then on it waits for the loop like any awaiting operation.
        """
        self._deferred = True
        if self._on_loop and self._waits_on is None:
            clock = loop_clock.current()
            if clock is not None:
                self._waits_on, self._held_at_start = clock, clock.reading()

    def end(self, error: BaseException | None = None, result: object = None) -> None:
        """The call returned or raised: run the result hook, then record (unless it deferred)."""
        if self._started is None:
            return
        was, inside.on = inside.on, True
        own = self.own_ns
        began = thread_time_ns() if own else 0
        try:
            self._end(error, result)
        finally:
            inside.on = was
            if own:
                self._charge_own(own + thread_time_ns() - began)

    def _charge_own(self, nanoseconds: int) -> None:
        """A sampled operation's own cost, start and end (``recording/overhead.py``), recorded once."""
        self.own_ns = 0
        try:
            self._telemetry.recorder.overhead(self._operation.kind, nanoseconds / 1e9, self.context)
        except Exception as exc:
            failures.report("recording otel-agentperf's own cost", exc)

    def _end(self, error: BaseException | None, result: object) -> None:
        started = self._started
        if self._counts_call and started is not None:  # the synchronous call returned or raised: it held its
            self._counts_call = False  # loop until now
            ran = perf_counter() - started
            self._held += ran
            if ran >= self._telemetry.block_threshold and self._noted:  # (the rare call that long: one read)
                # What of that its thread waited for a CPU: a call that ran 1 ms and waited 30 ms on a loaded
                # machine held the loop those 31 ms, but is no blocker for it.
                self._call_starved = min(max(run_queue.this_thread_ns() - self._noted, 0) / 1e9, ran)
        if error is None:
            if self._on_result is not None:
                try:
                    self._on_result(self, result)
                except Exception as exc:
                    failures.report(f"reading the result of a {self._operation.kind} operation", exc)
            self._read_result(result)
        if self._token is not None:
            token, self._token = self._token, None
            try:
                otel_context.detach(token)  # type: ignore[arg-type]
            except Exception as exc:
                failures.report("detaching the context", exc)
        if self._deferred and error is None:
            return
        self._finish(self._failure if isinstance(self._failure, str) else error or self._failure)

    def _read_result(self, result: object) -> None:
        """What a kind learns from the value the call returned by itself (no hook needed)."""

    def item(self, item: object) -> None:
        """A generator this operation wraps yielded ``item``: let the item hook read it."""
        hook = self._on_item
        if hook is not None and self._started is not None:
            was, inside.on = inside.on, True
            try:
                hook(self, item)
            except Exception as exc:
                failures.report(f"reading an item of a {self._operation.kind} operation", exc)
            finally:
                inside.on = was

    def finish(self, error: BaseException | str | None = None) -> None:
        """Record duration (usage, memory), set the error status and end the span; once only."""
        was, inside.on = inside.on, True
        try:
            self._finish(error)
        finally:
            inside.on = was

    def _finish(self, error: BaseException | str | None) -> None:
        started = self._started
        if started is None:
            return
        ended = perf_counter()
        duration = ended - started
        self._duration, self._ended = duration, ended
        self._started = None
        if self._frame is not None:
            loop_clock.RUNNING_FRAMES.pop(self._frame, None)
            self._frame = None
        hot = cpu_sampler.sampler.take(self) if cpu_sampler.sampler.on else None
        if self._outer is not None:
            return
        telemetry = self._telemetry
        recorder = telemetry.recorder
        pending = self._pending
        try:
            attributes = self._metric_attributes
            if error is not None:
                kind = telemetry.error_types(error if isinstance(error, str) else error_type(error))
                attributes = {**attributes, names.ERROR_TYPE: kind}
                pending[names.ERROR_TYPE] = kind
                self.span.set_status(Status(StatusCode.ERROR, kind))
                self._hints |= keep_hints.ERROR
            children = self._children
            called = children_waited = children_held = 0.0
            for child_duration, child_waited, child_held in children:
                called += child_duration
                children_waited += child_waited
                children_held += child_held
            attributes, held = self._record_blocking(duration, attributes, children_held)
            waited, own_waited = (
                self._record_waiting(duration, attributes, held + children_held, children_waited)
                if self._waits_on is not None
                else (0.0, 0.0)
            )
            if self._consumed or self._queued:
                self._record_saturation(attributes)
            if self._request:
                self._end_path(started, started + duration, attributes, own_waited)
            recorder.duration(self._operation.histogram, duration, attributes, self.context)
            if self._operation.protocol is not None:
                self._record_protocol(duration, pending.get(names.ERROR_TYPE))
            own = max(duration - called, 0.0) if children else duration
            pending[names.SELF_TIME] = own
            recorder.self_time(self._operation.kind, own, attributes)
            if duration > telemetry.slow.thresholds.get(self._operation.kind, math.inf):
                telemetry.slow.record(
                    self._operation.kind, self.span, self._operation.span_name, duration, own, attributes
                )
            if self._enclosing is not None:
                self._enclosing._children.append((duration, waited, held + children_held))
            self._record(attributes)
            if hot:
                self._record_hotspots(hot, attributes)
            if self._fingerprint is not None:
                self._check_repeat(duration, attributes)
            if self._chain is not None:
                self._close_chain()
            if self._sequential is not None:
                calls, seconds, recoverable = self._sequential
                recorder.sequential(self._operation.kind, int(calls), seconds, recoverable, attributes)
            if self._request == _REQUEST:
                self._keep(started, duration)
            elif self._enclosing is not None and (self._hints or self._cost):
                self._enclosing._hints |= self._hints
                self._enclosing._cost += self._cost
            if self._snapshot is not None and telemetry.memory is not None:
                deltas = telemetry.memory.finish(self._snapshot)
                pending.update(deltas)
                recorder.memory(deltas, attributes, self._operation.kind, self.context)
            self.span.set_attributes(pending)
        except Exception as exc:
            failures.report(f"recording {self._operation.kind} operation", exc)
        finally:
            recorder.ended(self._operation.kind)
            try:
                # It ends as its duration says (a span started without our clock ends when the SDK says).
                self.span.end(end_time=self._started_ns + int(duration * 1e9) if self._started_ns else None)
            except Exception as exc:  # a span processor's on_end (the user's own, say) raised
                failures.report("ending a span", exc)
        enclosing = self._enclosing
        if enclosing is not None and enclosing._started is not None:
            loop = self._blocked + self._queued  # holding its loop, or queued for a turn on it: not waiting on I/O
            enclosing._child_done(self._operation.kind, started, duration, perf_counter(), loop, self._follows)

    def _child_done(self, kind: str, started: float, duration: float, done: float, loop: float, follows: bool) -> None:
        """A call this one made, started at ``started``, has finished (its recording over at ``done``): it
        extends the run of calls awaited one after another, or ends it and may begin the next.

        It extends the run when it is of the run's family and started after the last one had finished, no
        more than :data:`SEQUENTIAL_GAP` later: this operation awaited one, then at once the other. A call
        that held its event loop, or queued for its turn on a saturated one, for half its time or more
        (``loop`` seconds) was not waiting on I/O: run beside the others it would have taken as long, so it
        ends the run. A call that ``follows`` an earlier one (a model call whose prompt grew since its
        conversation's first turn: it carries the answers before it) could not have started sooner: it
        begins a run of its own.
        """
        family = _IO_FAMILIES.get(kind) if loop * 2 < duration else None
        chain = self._chain
        if chain is not None:
            end, seconds, longest, count, chained = chain
            if family == chained and not follows and 0.0 <= started - end <= SEQUENTIAL_GAP:
                self._chain = (done, seconds + duration, max(longest, duration), count + 1, chained)
                return
            self._close_chain()
        self._chain = None if family is None else (done, duration, duration, 1, family)

    def _close_chain(self) -> None:
        """The run of calls one after another is over: two or more add their time and what overlap saves."""
        chain, self._chain = self._chain, None
        if chain is None or chain[3] < 2:
            return
        _, seconds, longest, count, _ = chain
        if self._sequential is None:
            self._sequential = [count, seconds, seconds - longest]
        else:
            totals = self._sequential
            totals[0] += count
            totals[1] += seconds
            totals[2] += seconds - longest

    def _check_repeat(self, duration: float, attributes: Attributes) -> None:
        """A call whose arguments' digest an earlier call in its request had: a repeat, recorded with its
        time, tokens and cost. The first call with those arguments is not waste; later ones are."""
        root = self._root
        fingerprint = self._fingerprint
        if root is None or fingerprint is None:
            return
        seen = root._seen
        if seen is None:
            seen = root._seen = {}
        if fingerprint in seen:
            tokens, usd = self._spent()
            self._pending[names.REPEATED] = True
            self._telemetry.recorder.repeated(self._operation.kind, duration, tokens, usd, attributes)
        elif len(seen) < _SEEN_LIMIT:
            seen[fingerprint] = None

    def _spent(self) -> tuple[int, float | None]:
        """Tokens and dollars this call used (a model call's)."""
        return 0, None

    def _end_path(self, started: float, ended: float, attributes: Attributes, waited: float) -> None:
        """This operation's critical path, from its start to ``ended``: recorded as a request's, or handed to
        the operation that called it (its path up to ``ended``), which may go on through it."""
        operation = self._operation
        memo = operation.path_key
        if memo is not None and memo[0] is attributes:  # the very attributes its previous call was named by
            key = memo[2]
        else:
            naming = names.NAMING_ATTRIBUTES.get(operation.kind, ())
            values = tuple([attributes.get(n) for n in naming])
            if memo is not None and memo[1] == values:  # named as its previous call was, by other attributes
                key = memo[2]
            else:
                key = (operation.kind, names.row_name(["" if value is None else str(value) for value in values]))
            operation.path_key = (attributes, values, key)
        last, self._path = self._path, None
        telemetry = self._telemetry
        if self._request == _REQUEST:
            seconds = critical_path.close(last, started, ended, key, waited)
            telemetry.recorder.request(key[0], key[1], ended - started, seconds, self.context)
            telemetry.process.had_request = True
            top = critical_path.top(seconds)
            self._pending[names.CRITICAL_PATH_OPERATIONS] = [name for name, _ in top]
            self._pending[names.CRITICAL_PATH_SECONDS] = [value for _, value in top]
            return
        caller: Invocation | critical_path.ProcessPath | None = self._enclosing
        if caller is None and self._request == _OUTSIDE:
            caller = telemetry.process
        parent_started = caller._started if caller is not None else None
        if caller is None or parent_started is None:
            return  # the caller has finished: this one ran on after it, off its path
        node = critical_path.hand_on(self._path_before, parent_started, last, started, ended, key, waited)
        last = caller._path
        if last is None or node[0] >= last[0]:
            caller._path = node

    def _keep(self, started: float, duration: float) -> None:
        """A request's keep hints on its span: why its trace is worth keeping (``keep_hints``)."""
        telemetry = self._telemetry
        memo = self._operation.path_key  # its name as its critical path named it, just now
        key = memo[2] if memo is not None else (self._operation.kind, self._operation.span_name)
        slow = telemetry.recent.slower(key, duration)
        found = keep_hints.reasons(self._hints, self._cost, telemetry.keep_cost, slow)
        if found:
            self._pending.update(keep_hints.attributes(found))

    def _record_protocol(self, duration: float, failed: AttributeValue | None) -> None:
        measured = {**self._operation.protocol_attributes, **(self._protocol_attributes or {})}
        if failed is not None:
            measured[names.ERROR_TYPE] = failed
        bounded = self._telemetry.bounds.metric_attributes(measured)
        self._telemetry.recorder.protocol_duration(self._operation.protocol or "", duration, bounded, self.context)

    def _record(self, attributes: Attributes) -> None:
        """What only this kind measures, recorded as the operation finishes (nothing for most kinds)."""

    def _record_blocking(
        self, duration: float, attributes: Attributes, children_held: float
    ) -> tuple[Attributes, float]:
        """Event-loop blocking: the time this operation's own code held the loop, and where; returns the
        metric attributes (with the verdict, for config and history) and the seconds charged to it.

        Its own code: what the loop monitor saw of it, or, for synchronous code on the loop's thread, the
        time that code ran (a call until it returned, each step of what it streams), less what the
        operations it called were charged (they held the loop inside it, and are charged themselves), when
        that is past the threshold. Awaiting never holds the loop.
        """
        threshold = self._telemetry.block_threshold
        own_held = self._held - children_held
        # A block when its code held the loop past the threshold by itself, its thread's waits for a CPU left
        # out; charged then all the time it held the loop, as the tasks awaiting on it lived it.
        blocked = max(self._blocked, own_held if own_held - self._call_starved >= threshold else 0.0)
        if blocked > self._blocked:  # the part the monitor did not see (all of it, without the monitor)
            clock = loop_clock.current()
            if clock is not None:  # the loop was held that much longer than the monitor saw
                clock.add(blocked - self._blocked)
            self._blocked = blocked  # so the monitor's late look adds nothing past its duration
        if blocked:
            self._telemetry.recorder.event_loop_blocked(blocked, attributes, self._operation.kind)
        # Held past the threshold by itself: a fast call that was on the stack during a longer block
        # is charged its part, not flagged.
        flagged = blocked if blocked >= threshold else 0.0
        if flagged:
            self._hints |= keep_hints.BLOCKING
            self._pending[names.EVENT_LOOP_BLOCKED_TIME] = flagged
            event: dict[str, AttributeValue] = {names.EVENT_LOOP_BLOCKED_TIME: flagged}
            if self._where is not None:
                function, path, line, stack = self._where
                event.update({names.CODE_FUNCTION: function, names.CODE_FILE_PATH: path, names.CODE_LINE_NUMBER: line})
                if stack:
                    event[names.CODE_STACKTRACE] = stack
            self.span.add_event(names.EVENT_LOOP_BLOCKED_EVENT, event)
        if self._on_loop is not None and self._operation.kind in names.EXCLUSIVE_KINDS:
            return {**attributes, names.BLOCKING_EVENT_LOOP: "true" if flagged else "false"}, blocked
        return attributes, blocked

    def _record_saturation(self, attributes: Attributes) -> None:
        """What the loop monitor's looks charged it: time running on its loop, and time queued for its turn."""
        recorder, kind = self._telemetry.recorder, self._operation.kind
        if self._consumed:
            recorder.event_loop_consumed(self._consumed, attributes, kind)
        if self._queued:
            recorder.event_loop_queued(self._queued, attributes, kind)
            self._pending[names.EVENT_LOOP_QUEUED_TIME] = self._queued

    def _record_waiting(
        self, duration: float, attributes: Attributes, held: float, children_waited: float
    ) -> tuple[float, float]:
        """Time this awaiting operation's loop was held by other code while it ran: the delay a synchronous
        culprit imposes on its victims, so the report can charge it to the culprit. Returns the whole wait
        (its callees' included), for the operation around it.

        ``held`` is what it and its callees held the loop themselves (not a wait); what its callees waited
        they record themselves, so this one records the rest: the waits of its own time, as self time is
        its duration less its callees'. An upper bound: a block that ended before the awaited I/O did
        delayed nothing. Also returns that own wait as recorded (0 under a millisecond), for its critical path.
        """
        clock = self._waits_on
        if clock is None:
            return 0.0, 0.0
        waited = max(min(clock.reading() - self._held_at_start - held, duration - held), 0.0)
        own = waited - children_waited
        # The monitor sees a block end when the loop runs its callback: a block that ended just before
        # this started counts on for the instants until then. Under a millisecond is below what it can tell.
        if own < _LEAST_WAIT:
            return waited, 0.0
        self._pending[names.EVENT_LOOP_WAITED_TIME] = own
        self._telemetry.recorder.event_loop_waited(own, attributes, self._operation.kind)
        return waited, own


class AgentInvocation(Invocation):
    """An agent run: counts the LLM and tool calls made inside it, from every thread and task it spawns.

    The counts are ``itertools.count`` objects: ``next()`` on one is a single C call, atomic under the GIL,
    so counting needs no lock. A lock per run would have to be unlocked again in a forked child, and the
    weak registry that does that runs a Python callback as each run's lock is collected, where a Ctrl-C
    that lands is swallowed ("Exception ignored"): the app would not stop.
    """

    __slots__ = ("_llm_calls", "_provider", "_tool_calls")

    def __init__(self, telemetry: Telemetry, operation: Operation, span: Span, **kwargs: Any) -> None:
        super().__init__(telemetry, operation, span, **kwargs)
        self._llm_calls = itertools.count()
        self._tool_calls = itertools.count()
        self._provider: AttributeValue | None = None

    @property
    def name(self) -> str:
        return self._operation.name

    def count(self, kind: str, provider: AttributeValue | None = None) -> None:
        """An LLM or tool operation started inside this agent (not inside a sub-agent).

        The first LLM call's provider is the agent's ``gen_ai.provider.name`` (required on the span, and
        known to no one else when the agent is the app's own code or a framework's).
        """
        if kind == names.KIND_LLM:
            next(self._llm_calls)
            if self._provider is None and provider:
                self._provider = provider
        else:
            next(self._tool_calls)

    def _record(self, attributes: Attributes) -> None:
        # Once only, as the run finishes: the next number each count gives is how many it has counted.
        llm_calls, tool_calls = next(self._llm_calls), next(self._tool_calls)
        self._telemetry.recorder.agent_calls(llm_calls, tool_calls, attributes, self.context)
        self._pending[names.AGENT_LLM_CALLS] = llm_calls
        self._pending[names.AGENT_TOOL_CALLS] = tool_calls
        if self._provider is not None and names.GEN_AI_PROVIDER_NAME not in self._attributes:
            self._pending[names.GEN_AI_PROVIDER_NAME] = self._provider  # the span's only: not a metric attribute


class LLMInvocation(Invocation):
    """A model call: token usage and its cost, time to first chunk and between chunks of a stream."""

    __slots__ = (
        "_attempts",
        "_chunk_gaps",
        "_connection_wait",
        "_conversation",
        "_first_chunk",
        "_last_chunk",
        "_pool_limit",
        "_usage",
    )

    def __init__(self, telemetry: Telemetry, operation: Operation, span: Span, **kwargs: Any) -> None:
        super().__init__(telemetry, operation, span, **kwargs)
        self._last_chunk: float | None = None
        # Chunk timings not recorded yet. The conventions put the response model on the chunk metrics, so
        # they wait until the stream names it (usually in its first chunk, or else at the end), and are then
        # recorded in batches as the chunks arrive, not all at once as a long stream ends.
        self._first_chunk: float | None = None
        self._chunk_gaps: list[float] = []
        self._usage: tuple[int | None, int | None, int | None, int | None] | None = None
        self._attempts: list[Attempt] | None = None
        # Seconds its HTTP requests waited for a free connection of their client's pool, and that pool's limit.
        self._connection_wait = 0.0
        self._pool_limit: int | None = None
        # Whose conversation this call is a turn of, without a conversation id: its agent run, or its request.
        self._conversation: Invocation | None = self._root

    def converses_in(self, owner: Invocation | None) -> None:
        """This call is a turn of ``owner``'s conversation (the agent run it is made in)."""
        if owner is not None:
            self._conversation = owner

    def attempt(self, started: float, status: int | None, error: BaseException | None) -> None:
        """One HTTP request of this call ended (the SDKs retry 429s, 5xx and timeouts inside one call)."""
        if self._started is None:
            return
        reason: dict[str, AttributeValue] = {}
        if error is not None:
            reason[names.ERROR_TYPE] = self._telemetry.error_types(error_type(error))
        elif status is not None:
            reason[names.HTTP_RESPONSE_STATUS_CODE] = status if 100 <= status <= 599 else 0
        attempt = Attempt(started, perf_counter(), reason)
        if self._attempts is None:
            self._attempts = [attempt]
        else:
            self._attempts.append(attempt)

    def waited_for_connection(self, seconds: float, limit: int | None) -> None:
        """One HTTP request of this call waited ``seconds`` for a free connection of a pool of ``limit``."""
        if self._started is None:
            return
        self._connection_wait += seconds
        if limit is not None:
            self._pool_limit = limit

    def _record_retries(self) -> None:
        """Every attempt but the last was retried: what made it retry, and the time spent before the last."""
        attempts = self._attempts
        if not attempts or len(attempts) < 2:
            return
        first, last = attempts[0], attempts[-1]
        retried = attempts[:-1]
        seconds = last.started - first.started
        self._pending[names.LLM_HTTP_ATTEMPTS] = len(attempts)
        self._hints |= keep_hints.RETRIED
        self._pending[names.LLM_RETRY_TIME] = seconds
        # Span events carry wall-clock times: each attempt's end, moved from the performance counter.
        offset = time.time_ns() - int(perf_counter() * 1e9)
        for attempt in retried:
            self.span.add_event(
                names.LLM_RETRY_EVENT,
                {**attempt.reason, names.LLM_ATTEMPT_DURATION: attempt.ended - attempt.started},
                timestamp=offset + int(attempt.ended * 1e9),
            )
        self._telemetry.recorder.retries(
            [attempt.reason for attempt in retried], seconds, self._metric_attributes, self.context
        )

    def set_usage(
        self,
        input_tokens: int | None,
        output_tokens: int | None,
        cache_read: int | None = None,
        cache_write: int | None = None,
    ) -> None:
        """Token usage reported by the provider; recorded once, when the operation finishes.

        ``input_tokens`` counts every input token, cache reads and writes included, as the conventions ask.
        A folded operation's usage is the outer operation's.
        """
        input_tokens, output_tokens = token_count(input_tokens), token_count(output_tokens)
        cache_read, cache_write = token_count(cache_read), token_count(cache_write)
        target = self._outer if isinstance(self._outer, LLMInvocation) else self
        target._usage = (input_tokens, output_tokens, cache_read, cache_write)
        usage = (
            (names.GEN_AI_USAGE_INPUT_TOKENS, input_tokens),
            (names.GEN_AI_USAGE_OUTPUT_TOKENS, output_tokens),
            (names.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS, cache_read),
            (self._telemetry.instruments.cache_write_attribute, cache_write),
        )
        self.add_attributes({key: value for key, value in usage if value is not None})

    def chunk(self) -> None:
        """A streamed chunk arrived: time to first chunk, then time per output chunk.

        A folded operation's chunks are not timed: the outer operation times the chunks it hands on.
        """
        started = self._started
        if started is None or self._outer is not None:
            return
        now = perf_counter()
        if self._last_chunk is None:
            self._first_chunk = now - started
            self._pending[names.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] = now - started
        else:
            self._chunk_gaps.append(now - self._last_chunk)
        self._last_chunk = now
        if len(self._chunk_gaps) >= _CHUNK_BATCH and names.GEN_AI_RESPONSE_MODEL in self._metric_attributes:
            was, inside.on = inside.on, True
            try:
                self._record_chunks()
            finally:
                inside.on = was

    def _record_chunks(self) -> None:
        """Record the chunk timings taken and not recorded yet."""
        first, gaps = self._first_chunk, self._chunk_gaps
        if first is None and not gaps:
            return
        self._first_chunk, self._chunk_gaps = None, []
        self._telemetry.recorder.chunks(first, gaps, self._metric_attributes, self.context)

    def _finish(self, error: BaseException | str | None) -> None:
        """Finish; a call whose provider nobody named (``@llm`` over the app's own client) is ``_OTHER``.

        The conventions require ``gen_ai.provider.name``; an SDK call inside has named it by now.
        """
        unnamed = names.GEN_AI_PROVIDER_NAME not in self._metric_attributes
        if unnamed and self._started is not None and self._outer is None:
            try:
                self.add_attributes(None, {names.GEN_AI_PROVIDER_NAME: names.OTHER})
            except Exception as exc:
                failures.report("naming an LLM operation's provider", exc)
        super()._finish(error)

    def _record(self, attributes: Attributes) -> None:
        """Retries, chunk timing and token usage, then the cost of those tokens when the model has a price."""
        self._record_retries()
        self._record_chunks()
        recorder, usage_attributes = self._telemetry.recorder, self._metric_attributes
        if self._connection_wait:
            self._pending[names.CONNECTION_WAIT_DURATION] = self._connection_wait
            recorder.connection_wait(self._connection_wait, self._pool_limit, usage_attributes)
        if self._usage is None:
            return
        input_tokens, output_tokens, cache_read, cache_write = self._usage
        failed = names.ERROR_TYPE in attributes
        recorder.tokens(input_tokens, output_tokens, cache_read, cache_write, usage_attributes, failed, self.context)
        if cache_read:
            recorder.cached_input_tokens(cache_read, usage_attributes)
        model = self._attributes.get(names.GEN_AI_RESPONSE_MODEL) or self._attributes.get(names.GEN_AI_REQUEST_MODEL)
        price = prices.table().price(str(model)) if model else None
        if input_tokens:
            self._turn(input_tokens, str(model or ""), price)
        if price is None:
            recorder.unpriced(usage_attributes)
            return
        cost = price.cost(input_tokens or 0, output_tokens or 0, cache_read or 0, cache_write or 0)
        self._pending[names.LLM_COST] = cost
        self._cost += cost
        recorder.cost(cost, usage_attributes)

    def _spent(self) -> tuple[int, float | None]:
        usage = self._usage
        tokens = (usage[0] or 0) + (usage[1] or 0) if usage is not None else 0
        cost = self._pending.get(names.LLM_COST)
        return tokens, cost if isinstance(cost, float) else None

    def _turn(self, input_tokens: int, model: str, price: prices.Price | None) -> None:
        """This call as a turn of its conversation (by ``gen_ai.conversation.id`` when the call or its agent
        has one, else its agent run or request; per model): a later turn records what it took beyond the
        conversation's first, in input tokens, seconds and dollars."""
        owner = self._conversation
        conversation = self._attributes.get(names.GEN_AI_CONVERSATION_ID)
        if conversation is None and owner is not None:
            conversation = owner._attributes.get(names.GEN_AI_CONVERSATION_ID)
        if conversation is not None:
            turns, key = _CONVERSATIONS, (str(conversation), model)
        elif owner is not None:
            if owner._turns is None:
                owner._turns = {}
            turns, key = owner._turns, ("", model)
        else:
            return
        state = turns.get(key)
        if state is None:
            if len(turns) >= _CONVERSATION_LIMIT:
                turns.pop(next(iter(turns)), None)
            turns[key] = (1, input_tokens, self._duration)
            return
        count, first_tokens, first_seconds = state
        turns[key] = (count + 1, first_tokens, first_seconds)
        excess = max(input_tokens - first_tokens, 0)
        self._follows = excess > 0  # its prompt carries what the turns before it answered
        usd = price.cost(excess, 0) if price is not None and excess else None
        # What it took beyond the first turn, up to the part of its time its extra tokens are of its prompt:
        # a turn whose prompt did not grow took nothing for growth, however long it waited for its loop or
        # streamed; where time grows with the prompt (a constant plus a time per token) the bound holds.
        seconds = (
            min(max(self._duration - first_seconds, 0.0), self._duration * excess / input_tokens) if excess else 0.0
        )
        self._telemetry.recorder.later_turn(count, first_tokens, excess, seconds, usd, self._metric_attributes)


class HistoryInvocation(Invocation):
    """A history-store operation: the store's size (records, bytes) as this operation saw it."""

    __slots__ = ()

    def _read_result(self, result: object) -> None:
        # What a read returned stands in for the store's size only when the store itself was not measured.
        if (
            self._operation.records_from_result
            and isinstance(result, (list, tuple))
            and names.HISTORY_RECORDS not in self._attributes
        ):
            self.add_attributes({names.HISTORY_RECORDS: len(result)})

    def _record(self, attributes: Attributes) -> None:
        records, size = self._attributes.get(names.HISTORY_RECORDS), self._attributes.get(names.FILE_SIZE)
        self._telemetry.recorder.history_size(
            records if isinstance(records, int) else None,
            size if isinstance(size, int) else None,
            attributes,
            self.context,
        )


# The invocation type of each kind that measures something of its own; the others use Invocation.
TYPES: Mapping[str, type[Invocation]] = {
    names.KIND_AGENT: AgentInvocation,
    names.KIND_LLM: LLMInvocation,
    names.KIND_HISTORY: HistoryInvocation,
}
