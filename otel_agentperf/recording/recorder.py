"""The one module that records: every instrument is created here, and every ``record``/``add`` is made here.

Invocations decide *what* an operation measured; the :class:`Recorder` turns those measurements into
points on the catalogue's instruments (``conventions.instruments``), so where a metric is born is one
method of one class.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from opentelemetry.context import Context
from opentelemetry.metrics import CallbackOptions, Histogram, Meter, Observation
from opentelemetry.util.types import AttributeValue

from otel_agentperf.conventions import names
from otel_agentperf.conventions.instruments import CACHE_READ, CACHE_WRITE, Instrument, Instruments
from otel_agentperf.runtime import forksafe

Attributes = Mapping[str, AttributeValue]


class _ActiveCounts:
    """In-flight operations per kind, read by an asynchronous UpDownCounter at collection time.

    A lock-protected integer per kind costs far less on the hot path than two synchronous ``add`` calls.
    """

    def __init__(self) -> None:
        self._lock = forksafe.lock()
        self._counts = dict.fromkeys(names.KINDS, 0)

    def add(self, kind: str, delta: int) -> None:
        with self._lock:
            self._counts[kind] += delta

    def observe(self, _options: CallbackOptions) -> Iterable[Observation]:
        with self._lock:
            counts = list(self._counts.items())
        return [Observation(count, {names.OPERATION_KIND: kind}) for kind, count in counts]


class _Sums:
    """Running totals per series, read by an asynchronous counter at collection time.

    One addition under a lock per measurement: a synchronous counter ``add`` (its attributes checked and
    hashed by the SDK every time) costs as much as a histogram record, for a value that only ever adds up.
    A series is the attributes, plus the operation kind where one is given (self time).
    """

    def __init__(self) -> None:
        self._lock = forksafe.lock()
        self._totals: dict[tuple[str | None, tuple[tuple[str, AttributeValue], ...]], float] = {}

    def add(self, value: float, attributes: Attributes, kind: str | None = None) -> None:
        key = (kind, tuple(attributes.items()))
        with self._lock:
            self._totals[key] = self._totals.get(key, 0) + value  # token counts stay ints, as the conventions type them

    def observe(self, _options: CallbackOptions) -> Iterable[Observation]:
        with self._lock:
            totals = list(self._totals.items())
        return [
            Observation(total, dict(attributes) if kind is None else {**dict(attributes), names.OPERATION_KIND: kind})
            for (kind, attributes), total in totals
        ]


class _PathSums:
    """Critical-path seconds per (request kind, request name, operation kind, operation name), added up under
    one lock per request; the attributes are made at collection time, not per part on the hot path."""

    def __init__(self) -> None:
        self._lock = forksafe.lock()
        self._totals: dict[tuple[str, str, str, str], float] = {}

    def add(self, kind: str, name: str, parts: Mapping[tuple[str, str], float]) -> None:
        totals = self._totals
        with self._lock:
            for (part_kind, part_name), seconds in parts.items():
                key = (kind, name, part_kind, part_name)
                totals[key] = totals.get(key, 0.0) + seconds

    def observe(self, _options: CallbackOptions) -> Iterable[Observation]:
        with self._lock:
            totals = list(self._totals.items())
        return [
            Observation(
                seconds,
                {
                    names.REQUEST_KIND: kind,
                    names.REQUEST_NAME: name,
                    names.OPERATION_KIND: part_kind,
                    names.CRITICAL_PATH_OPERATION: part_name,
                },
            )
            for (kind, name, part_kind, part_name), seconds in totals
        ]


class Recorder:
    """The instruments of one meter, made from one layout's catalogue, and the only code that records.

    A histogram point of an operation is recorded with the operation's own context (``context``), so the
    SDK's exemplar for it names the operation's span, not whatever span is current when it finishes (its
    parent's, or none once its own context is detached), as contrib's GenAI utilities record theirs.
    """

    def __init__(self, meter: Meter, instruments: Instruments) -> None:
        made: dict[str, Histogram] = {}

        def histogram(spec: Instrument) -> Histogram:
            # Embeddings share the inference histogram in semconv v1.41; an MCP request's duration is the MCP
            # client metric that a tool call over MCP records too.
            if spec.name not in made:
                made[spec.name] = meter.create_histogram(
                    spec.name,
                    unit=spec.unit,
                    description=spec.description,
                    explicit_bucket_boundaries_advisory=list(spec.boundaries),
                )
            return made[spec.name]

        def counter(spec: Instrument) -> _Sums:
            sums = _Sums()
            meter.create_observable_counter(
                spec.name, callbacks=[sums.observe], unit=spec.unit, description=spec.description
            )
            return sums

        self._durations = {key: histogram(spec) for key, spec in instruments.durations.items()}
        self._protocol_durations = {key: histogram(spec) for key, spec in instruments.protocol_durations.items()}
        self._mcp_client_session = histogram(instruments.mcp_client_session)
        self._token_usage = None if instruments.latest else histogram(instruments.token_usage)
        self._operation_tokens = {key: histogram(spec) for key, spec in instruments.operation_tokens.items()}
        self._usage_tokens = {key: counter(spec) for key, spec in instruments.usage_tokens.items()}
        self._time_to_first_chunk = histogram(instruments.time_to_first_chunk)
        self._time_per_output_chunk = histogram(instruments.time_per_output_chunk)
        self._agent_llm_calls = histogram(instruments.agent_llm_calls)
        self._agent_tool_calls = histogram(instruments.agent_tool_calls)
        self._history_records = histogram(instruments.history_records)
        self._history_bytes = histogram(instruments.history_bytes)
        self._memory = {key: histogram(spec) for key, spec in instruments.memory.items()}
        self._cost = counter(instruments.cost)
        self._cached_input_tokens = counter(instruments.cached_input_tokens)
        self._unpriced = counter(instruments.unpriced)
        self._llm_retries = counter(instruments.llm_retries)
        self._llm_retry_duration = histogram(instruments.llm_retry_duration)
        self._startup = histogram(instruments.startup)
        self._overhead = histogram(instruments.overhead)
        self._import_duration = histogram(instruments.import_duration)
        self._event_loop_lag = histogram(instruments.event_loop_lag)
        self._event_loop_blocked = counter(instruments.event_loop_blocked)
        self._event_loop_waited = counter(instruments.event_loop_waited)
        self._event_loop_running = counter(instruments.event_loop_running)
        self._event_loop_busy = counter(instruments.event_loop_busy)
        self._event_loop_saturated = counter(instruments.event_loop_saturated)
        self._event_loop_saturated_queued = counter(instruments.event_loop_saturated_queued)
        self._event_loop_consumed = counter(instruments.event_loop_consumed)
        self._event_loop_queued = counter(instruments.event_loop_queued)
        self._active = _ActiveCounts()
        active = instruments.operations_active
        meter.create_observable_up_down_counter(
            active.name, callbacks=[self._active.observe], unit=active.unit, description=active.description
        )
        self._self_times = counter(instruments.self_time)
        self._diagnoses = {spec.name: counter(spec) for spec in instruments.diagnoses()}
        self._cpu_sampled = counter(instruments.cpu_sampled_time)
        self._request_duration = histogram(instruments.request_duration)
        self._critical_path = _PathSums()
        path = instruments.critical_path
        meter.create_observable_counter(
            path.name, callbacks=[self._critical_path.observe], unit=path.unit, description=path.description
        )

    def started(self, kind: str) -> None:
        """An operation of ``kind`` began (``agentperf.operations.active``)."""
        self._active.add(kind, 1)

    def ended(self, kind: str) -> None:
        self._active.add(kind, -1)

    def duration(self, histogram: str, seconds: float, attributes: Attributes, context: Context | None = None) -> None:
        """An operation's duration, on the histogram its operation names (its kind, or embeddings)."""
        self._durations[histogram].record(seconds, attributes, context)

    def protocol_duration(
        self, protocol: str, seconds: float, attributes: Attributes, context: Context | None = None
    ) -> None:
        """The same operation's duration on its protocol's own histogram (``mcp.client.operation.duration``)."""
        self._protocol_durations[protocol].record(seconds, attributes, context)

    def mcp_client_session(self, seconds: float, attributes: Attributes) -> None:
        """An MCP session the client entered and left (``mcp.client.session.duration``)."""
        self._mcp_client_session.record(seconds, attributes)

    def self_time(self, kind: str, seconds: float, attributes: Attributes) -> None:
        """Time the operation spent itself (``agentperf.operation.self_time``)."""
        self._self_times.add(seconds, attributes, kind)

    def request(
        self,
        kind: str,
        name: str,
        seconds: float,
        critical_path: Mapping[tuple[str, str], float],
        context: Context | None = None,
    ) -> None:
        """A request ended: its wall time, and that time by the operation on its critical path at each instant
        (``critical_path``: seconds by (kind, row name), summing to ``seconds``)."""
        self._request_duration.record(seconds, {names.REQUEST_KIND: kind, names.REQUEST_NAME: name}, context)
        self._critical_path.add(kind, name, critical_path)

    def sequential(self, kind: str, calls: int, seconds: float, recoverable: float, attributes: Attributes) -> None:
        """An operation awaited ``calls`` I/O-bound calls one after another (in runs of two or more) that took
        ``seconds`` in all; run together, each run would have taken its longest call: ``recoverable`` less."""
        sums = self._diagnoses
        sums[names.SEQUENTIAL_CALLS].add(calls, attributes, kind)
        sums[names.SEQUENTIAL_DURATION].add(seconds, attributes, kind)
        sums[names.SEQUENTIAL_RECOVERABLE].add(recoverable, attributes, kind)

    def repeated(self, kind: str, seconds: float, tokens: int, usd: float | None, attributes: Attributes) -> None:
        """A call repeated one made earlier in its request with equal arguments: its time, tokens and cost."""
        sums = self._diagnoses
        sums[names.REPEATED_CALLS].add(1, attributes, kind)
        sums[names.REPEATED_DURATION].add(seconds, attributes, kind)
        if tokens:
            sums[names.REPEATED_TOKENS].add(tokens, attributes, kind)
        if usd:
            sums[names.REPEATED_COST].add(usd, attributes, kind)

    def later_turn(
        self,
        distance: int,
        first_tokens: int,
        excess_tokens: int,
        seconds: float,
        usd: float | None,
        attributes: Attributes,
    ) -> None:
        """A model call ``distance`` turns after its conversation's first: the first turn's input tokens, the
        input tokens and seconds it took beyond the first's (never below 0) and what those tokens cost."""
        sums = self._diagnoses
        sums[names.PROMPT_LATER_TURNS].add(1, attributes, names.KIND_LLM)
        sums[names.PROMPT_TURN_DISTANCE].add(distance, attributes, names.KIND_LLM)
        sums[names.PROMPT_FIRST_TURN_TOKENS].add(first_tokens, attributes, names.KIND_LLM)
        sums[names.PROMPT_EXCESS_TOKENS].add(excess_tokens, attributes, names.KIND_LLM)
        sums[names.PROMPT_EXCESS_DURATION].add(seconds, attributes, names.KIND_LLM)
        if usd:
            sums[names.PROMPT_EXCESS_COST].add(usd, attributes, names.KIND_LLM)

    def cpu_sampled(self, kind: str, function: str, line: int, seconds: float, attributes: Attributes) -> None:
        """An operation was sampled running ``seconds`` at ``function`` (``module:function``), ``line``."""
        self._cpu_sampled.add(
            seconds, {**attributes, names.CODE_FUNCTION: function, names.CODE_LINE_NUMBER: line}, kind
        )

    def connection_wait(self, seconds: float, limit: int | None, attributes: Attributes) -> None:
        """A model call waited ``seconds`` for a free connection of its HTTP client's pool (of ``limit``
        connections, when the pool says)."""
        sums = self._diagnoses
        sums[names.CONNECTION_WAIT_CALLS].add(1, attributes, names.KIND_LLM)
        sums[names.CONNECTION_WAIT_DURATION].add(seconds, attributes, names.KIND_LLM)
        if limit:
            sums[names.CONNECTION_WAIT_POOL_LIMIT].add(limit, attributes, names.KIND_LLM)

    def chunks(
        self, first: float | None, gaps: Iterable[float], attributes: Attributes, context: Context | None = None
    ) -> None:
        """A stream's time to first chunk (unless already recorded) and the time between each later chunk
        and the one before."""
        if first is not None:
            self._time_to_first_chunk.record(first, attributes, context)
        for gap in gaps:
            self._time_per_output_chunk.record(gap, attributes, context)

    def tokens(
        self,
        input_tokens: int | None,
        output_tokens: int | None,
        cache_read: int | None,
        cache_write: int | None,
        attributes: Attributes,
        failed: bool,
        context: Context | None = None,
    ) -> None:
        """Token usage as the layout has it.

        v1.41: one histogram point per token type. Newest GenAI conventions: the per-direction histograms,
        for operations that succeeded only, and a counter per kind of token for every operation, by
        modality (unknown: the SDKs report totals).
        """
        by_type = ((names.TOKEN_TYPE_INPUT, input_tokens), (names.TOKEN_TYPE_OUTPUT, output_tokens))
        if self._token_usage is not None:
            for token_type, tokens in by_type:
                if tokens is not None:
                    self._token_usage.record(tokens, {**attributes, names.GEN_AI_TOKEN_TYPE: token_type}, context)
            return
        if not failed:
            for token_type, tokens in by_type:
                if tokens is not None:
                    self._operation_tokens[token_type].record(tokens, attributes, context)
        counted = {**attributes, names.GEN_AI_TOKEN_MODALITY: names.TOKEN_MODALITY_UNKNOWN}
        for key, tokens in (*by_type, (CACHE_READ, cache_read), (CACHE_WRITE, cache_write)):
            if tokens is not None:
                self._usage_tokens[key].add(tokens, counted)

    def cached_input_tokens(self, tokens: int, attributes: Attributes) -> None:
        self._cached_input_tokens.add(tokens, attributes)

    def cost(self, usd: float, attributes: Attributes) -> None:
        self._cost.add(usd, attributes)

    def unpriced(self, attributes: Attributes) -> None:
        """A call with usage but no price for its model: counted, never shown as a cost of zero."""
        self._unpriced.add(1, attributes)

    def retries(
        self, retried: list[Attributes], seconds: float, attributes: Attributes, context: Context | None = None
    ) -> None:
        """One LLM call the SDK retried: each retried attempt's status or error, and the time before the last."""
        for reason in retried:
            self._llm_retries.add(1, {**attributes, **reason})
        self._llm_retry_duration.record(seconds, attributes, context)

    def startup(self, phase: str, seconds: float, context: Context | None = None) -> None:
        """How long after the process started it reached ``phase``; once per process and phase."""
        self._startup.record(seconds, {names.STARTUP_PHASE: phase}, context)

    def overhead(self, kind: str, seconds: float, context: Context | None = None) -> None:
        """otel-agentperf's own work for one sampled operation of ``kind`` (``recording/overhead.py``), with
        the operation's context (its exemplar names the operation's span, not whatever is current)."""
        self._overhead.record(seconds, {names.OPERATION_KIND: kind}, context)

    def import_duration(self, package: str, seconds: float) -> None:
        """A top-level package's imports took ``seconds`` (cumulative) before the first agent; once per process."""
        self._import_duration.record(seconds, {names.IMPORT_MODULE: package})

    def agent_calls(
        self, llm_calls: int, tool_calls: int, attributes: Attributes, context: Context | None = None
    ) -> None:
        """The LLM and tool calls one agent invocation made itself, as it finishes: attributed to the agent's
        name only, the one attribute the conventions give these counts."""
        name = attributes.get(names.GEN_AI_AGENT_NAME) if attributes else None
        agent: dict[str, AttributeValue] = {} if name is None else {names.GEN_AI_AGENT_NAME: name}
        self._agent_llm_calls.record(llm_calls, agent, context)
        self._agent_tool_calls.record(tool_calls, agent, context)

    def history_size(
        self, records: int | None, size_bytes: int | None, attributes: Attributes, context: Context | None = None
    ) -> None:
        """The size of a history store as one operation saw it, in records and in bytes."""
        if records is not None:
            self._history_records.record(records, attributes, context)
        if size_bytes is not None:
            self._history_bytes.record(size_bytes, attributes, context)

    def event_loop_lag(self, seconds: float) -> None:
        """How late a running event loop ran the loop monitor's callback."""
        self._event_loop_lag.record(seconds)

    def event_loop_blocked(self, seconds: float, attributes: Attributes, kind: str | None) -> None:
        """Time the loop was held: by an operation (its attributes and kind), or by code at a location."""
        self._event_loop_blocked.add(seconds, attributes, kind)

    def event_loop_waited(self, seconds: float, attributes: Attributes, kind: str) -> None:
        """Time an awaiting operation's loop was held by other code while it ran."""
        self._event_loop_waited.add(seconds, attributes, kind)

    def event_loop_window(
        self, running: float, busy: float, saturated: float, queued: float, attributes: Attributes
    ) -> None:
        """A loop's watched running time, the part it was busy, the part in saturated windows, and what awaiting
        operations queued on it in those."""
        self._event_loop_running.add(running, attributes, None)
        self._event_loop_busy.add(busy, attributes, None)
        if saturated:
            self._event_loop_saturated.add(saturated, attributes, None)
            self._event_loop_saturated_queued.add(queued, attributes, None)

    def event_loop_consumed(self, seconds: float, attributes: Attributes, kind: str | None) -> None:
        """Time the loop was seen running an operation (its attributes and kind), or code at a location."""
        self._event_loop_consumed.add(seconds, attributes, kind)

    def event_loop_queued(self, seconds: float, attributes: Attributes, kind: str) -> None:
        """Time an awaiting operation was ready but queued behind other callbacks on its loop."""
        self._event_loop_queued.add(seconds, attributes, kind)

    def memory(
        self, deltas: Mapping[str, int], attributes: Attributes, kind: str, context: Context | None = None
    ) -> None:
        """Memory measured over an operation, by the probe's measurement, with the operation's kind."""
        with_kind = {**attributes, names.OPERATION_KIND: kind}
        for key, delta in deltas.items():
            self._memory[key].record(max(delta, 0), with_kind, context)
