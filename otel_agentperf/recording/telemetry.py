"""The one recording primitive: an operation becomes a span, a duration histogram and an in-flight count.

Every decorator, segment, target and library instrumentor goes through :meth:`Telemetry.start` and
:meth:`Invocation.end`; none of them creates spans or records metrics itself.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Mapping
from time import perf_counter

from opentelemetry import context as otel_context
from opentelemetry import metrics, trace
from opentelemetry.context import Context
from opentelemetry.metrics import CallbackOptions, Histogram, MeterProvider, Observation
from opentelemetry.trace import Span, Status, StatusCode, TracerProvider
from opentelemetry.util.types import AttributeValue

from otel_agentperf.conventions import names
from otel_agentperf.recording import bounded, prices
from otel_agentperf.recording.memory import MemoryProbe
from otel_agentperf.recording.operations import Operation
from otel_agentperf.runtime import failures, forksafe, settings
from otel_agentperf.runtime.reentry import inside
from otel_agentperf.version import __version__

_AGENT_KEY = otel_context.create_key("agentperf-agent")
_EXCLUSIVE_KEY = otel_context.create_key("agentperf-exclusive-operation")
_LLM_KEY = otel_context.create_key("agentperf-llm-operation")
# The innermost running operation: a finishing operation adds its duration to it, for self time.
_CURRENT_KEY = otel_context.create_key("agentperf-operation")
# Kinds recorded at the outermost level only, and the context key holding the running one of each.
_FOLDED = {names.KIND_CONFIG: _EXCLUSIVE_KEY, names.KIND_HISTORY: _EXCLUSIVE_KEY, names.KIND_LLM: _LLM_KEY}
_ERROR_TYPE_LIMIT = 64


# Called with the invocation and the call's return value (or a yielded item), to add what only it tells.
ResultHook = Callable[["Invocation", object], None]


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


class _SelfTimes:
    """Self time summed per operation series, read by an asynchronous counter at collection time.

    One float addition under a lock per operation: a synchronous counter ``add`` (its attributes hashed
    every time) would cost a quarter of the whole operation.
    """

    def __init__(self) -> None:
        self._lock = forksafe.lock()
        self._totals: dict[tuple[str, tuple[tuple[str, AttributeValue], ...]], float] = {}

    def add(self, kind: str, attributes: Mapping[str, AttributeValue], seconds: float) -> None:
        key = (kind, tuple(attributes.items()))
        with self._lock:
            self._totals[key] = self._totals.get(key, 0.0) + seconds

    def observe(self, _options: CallbackOptions) -> Iterable[Observation]:
        with self._lock:
            totals = list(self._totals.items())
        return [
            Observation(total, {**dict(attributes), names.OPERATION_KIND: kind}) for (kind, attributes), total in totals
        ]


class AgentCalls:
    """The LLM and tool calls one agent invocation makes, counted from every thread and task it spawns."""

    __slots__ = ("_lock", "llm", "name", "tool")

    def __init__(self, name: str) -> None:
        self.name = name
        self.llm = 0
        self.tool = 0
        self._lock = forksafe.lock()

    def count(self, kind: str) -> None:
        with self._lock:
            if kind == names.KIND_LLM:
                self.llm += 1
            else:
                self.tool += 1


def error_type(exc: BaseException) -> str:
    """The exception's class name, as the conventions ask for ``error.type``."""
    return type(exc).__qualname__


class Telemetry:
    """Tracer, meter and instruments for one pair of providers (the global ones unless given)."""

    def __init__(
        self,
        tracer_provider: TracerProvider | None = None,
        meter_provider: MeterProvider | None = None,
        memory_modes: frozenset[str] | None = None,
    ) -> None:
        self.tracer = trace.get_tracer(names.SCOPE_NAME, __version__, tracer_provider, schema_url=names.SCHEMA_URL)
        meter = metrics.get_meter(names.SCOPE_NAME, __version__, meter_provider, schema_url=names.SCHEMA_URL)
        latest = names.latest_experimental()
        by_name: dict[str, Histogram] = {}
        for spec in names.histograms(latest).values():
            if spec.name not in by_name:  # embeddings share the inference histogram in semconv v1.41
                by_name[spec.name] = meter.create_histogram(
                    spec.name,
                    unit=spec.unit,
                    description=spec.description,
                    explicit_bucket_boundaries_advisory=list(spec.boundaries),
                )
        self._histograms = {key: by_name[spec.name] for key, spec in names.histograms(latest).items()}
        self._counters = {
            key: meter.create_counter(spec.name, unit=spec.unit, description=spec.description)
            for key, spec in names.counters().items()
        }
        self._cache_write_attribute = names.cache_write_attribute(latest)
        self._active = _ActiveCounts()
        meter.create_observable_up_down_counter(
            names.OPERATIONS_ACTIVE,
            callbacks=[self._active.observe],
            unit=names.UNIT_OPERATIONS,
            description="Operations in progress, per operation kind.",
        )
        self._self_times = _SelfTimes()
        meter.create_observable_counter(
            names.SELF_TIME,
            callbacks=[self._self_times.observe],
            unit=names.UNIT_SECONDS,
            description="Time operations spent themselves, not in the operations they called (exclusive time).",
        )
        modes = settings.memory_modes() if memory_modes is None else memory_modes
        self._memory = MemoryProbe(modes) if modes else None
        self._made_from = (tracer_provider, meter_provider, memory_modes)
        self._error_types = bounded.BoundedValues(_ERROR_TYPE_LIMIT)
        self._bounds = bounded.Bounds()

    def uses(
        self,
        tracer_provider: TracerProvider | None,
        meter_provider: MeterProvider | None,
        memory: frozenset[str] | None,
    ) -> bool:
        """Whether this state was made for these explicit providers (and these memory modes, when given)."""
        made_tracer, made_meter, made_memory = self._made_from
        explicit = tracer_provider is not None or meter_provider is not None
        same_memory = memory is None or made_memory == memory
        return explicit and made_tracer is tracer_provider and made_meter is meter_provider and same_memory

    def start(
        self,
        operation: Operation,
        attributes: Mapping[str, AttributeValue] | None = None,
        metric_attributes: Mapping[str, AttributeValue] | None = None,
        attach: bool = True,
        sync: bool = False,
        on_result: ResultHook | None = None,
        on_item: ResultHook | None = None,
        parent: Context | None = None,
    ) -> Invocation:
        """Begin ``operation``; with ``attach`` its span becomes current until :meth:`Invocation.end`.

        ``attributes`` go on the span, ``metric_attributes`` on the span and the metrics. Generators pass
        ``attach=False`` and make :attr:`Invocation.context` current around each step; ``parent`` (default:
        the current context) is for frameworks that report their own span tree. A config, history or LLM
        operation inside another of its kind is folded into the outer one: its attributes, usage and
        result reach the outer operation, and nothing is recorded twice (a user loader calling
        ``yaml.safe_load`` is one load; a framework's model call through an instrumented SDK is one call).
        """
        kind = operation.kind
        fold_key = _FOLDED.get(kind)
        if fold_key is not None:
            outer = otel_context.get_value(fold_key, parent)
            if isinstance(outer, Invocation) and outer._operation.kind == kind and outer._started is not None:
                outer.add_attributes(attributes, {**operation.metric_attributes, **(metric_attributes or {})})
                return Invocation(self, operation, outer.span, outer.context, None, {}, None, on_result, outer)
        span_attributes = operation.span_attributes
        metrics_attributes = self._bounds.of_operation(operation, operation.metric_attributes)
        # What this call adds to the operation's own attributes: real values on the span, bounded on metrics.
        extra: dict[str, AttributeValue] | None = None
        if metric_attributes or (sync and kind in names.EXCLUSIVE_KINDS):
            extra = dict(metric_attributes or {})
            if sync and kind in names.EXCLUSIVE_KINDS:
                extra[names.BLOCKING_EVENT_LOOP] = "true" if _loop_running() else "false"
        if kind == names.KIND_TOOL or kind == names.KIND_LLM:
            agent = otel_context.get_value(_AGENT_KEY, parent)
            if isinstance(agent, AgentCalls):
                agent.count(kind)
                if kind == names.KIND_TOOL:
                    extra = {**(extra or {}), names.GEN_AI_AGENT_NAME: agent.name}
        if extra:
            metrics_attributes = {**metrics_attributes, **self._bounds.metric_attributes(extra)}
        if attributes or extra:
            span_attributes = {**span_attributes, **(extra or {}), **(attributes or {})}
        span = self.tracer.start_span(operation.span_name, parent, kind=operation.span_kind, attributes=span_attributes)
        ctx = trace.set_span_in_context(span, parent)
        calls = None
        if kind == names.KIND_AGENT:
            calls = AgentCalls(operation.name)
            ctx = otel_context.set_value(_AGENT_KEY, calls, ctx)
        snapshot = self._memory.start() if self._memory is not None else None
        enclosing = otel_context.get_value(_CURRENT_KEY, parent)
        invocation = Invocation(self, operation, span, ctx, None, metrics_attributes, snapshot, on_result)
        invocation._enclosing = enclosing if isinstance(enclosing, Invocation) else None
        invocation.context = ctx = otel_context.set_value(_CURRENT_KEY, invocation, ctx)
        invocation._calls = calls
        invocation._on_item = on_item
        invocation._attributes = span_attributes
        if fold_key is not None:
            invocation.context = otel_context.set_value(fold_key, invocation, ctx)
        if attach:
            invocation._token = otel_context.attach(invocation.context)
        self._active.add(kind, 1)
        return invocation


# OTLP carries integers as int64: a usage count outside it (or not a whole number) is not a token count.
_MAX_TOKENS = 2**63 - 1


def _token_count(value: object) -> int | None:
    """A provider-reported token count, or None (and one warning) when it cannot be one."""
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= _MAX_TOKENS:
        return value
    failures.warn_once("usage", "otel-agentperf: ignoring a token count that is not a count in range: %r", value)
    return None


def _loop_running() -> bool:
    """True when this thread runs an asyncio loop: synchronous I/O here blocks every task on it."""
    asyncio = sys.modules.get("asyncio")
    return asyncio is not None and asyncio._get_running_loop() is not None


class Invocation:
    """One running operation. :meth:`end` is safe to call more than once; only the first counts."""

    __slots__ = (
        "_attributes",
        "_calls",
        "_children",
        "_deferred",
        "_enclosing",
        "_failure",
        "_last_chunk",
        "_metric_attributes",
        "_on_item",
        "_on_result",
        "_operation",
        "_outer",
        "_snapshot",
        "_started",
        "_telemetry",
        "_token",
        "_usage",
        "context",
        "span",
    )

    def __init__(
        self,
        telemetry: Telemetry,
        operation: Operation,
        span: Span,
        ctx: Context,
        token: object,
        metric_attributes: Mapping[str, AttributeValue],
        snapshot: tuple[int, int] | None,
        on_result: ResultHook | None = None,
        outer: Invocation | None = None,
    ) -> None:
        self._telemetry = telemetry
        self._operation = operation
        self.span = span
        self.context = ctx
        self._token = token
        self._metric_attributes = metric_attributes
        self._snapshot = snapshot
        self._on_result = on_result
        self._outer = outer
        self._attributes: Mapping[str, AttributeValue] = {}
        self._calls: AgentCalls | None = None
        self._on_item: ResultHook | None = None
        self._deferred = False
        self._failure: BaseException | None = None
        self._enclosing: Invocation | None = None
        self._children: list[float] = []  # durations of the operations it called (append is thread-safe)
        self._last_chunk: float | None = None
        self._usage: tuple[int | None, int | None, int | None, int | None] | None = None
        self._started: float | None = perf_counter()

    def add_attributes(
        self,
        attributes: Mapping[str, AttributeValue] | None,
        metric_attributes: Mapping[str, AttributeValue] | None = None,
    ) -> None:
        """Add what is learnt during the call; an operation's own attributes are never overwritten."""
        target = self._outer or self
        new_span = {
            key: value
            for key, value in {**(metric_attributes or {}), **(attributes or {})}.items()
            if key not in target._attributes
        }
        if new_span:
            target._attributes = {**target._attributes, **new_span}
            target.span.set_attributes(new_span)
        if metric_attributes:
            new = {
                key: value
                for key, value in target._telemetry._bounds.metric_attributes(metric_attributes).items()
                if key not in target._metric_attributes
            }
            if new:
                target._metric_attributes = {**target._metric_attributes, **new}

    def fail(self, error: BaseException) -> None:
        """Called by a result hook: the call returned, but what it returned is the caller's failure.

        (An HTTP response whose body will not parse.) The operation ends as an error of that type.
        """
        self._failure = error

    def defer(self) -> None:
        """Called by a result hook: the call returned but the operation goes on (a stream being read).

        The span stops being current now; :meth:`finish` records the operation later.
        """
        self._deferred = True

    def end(self, error: BaseException | None = None, result: object = None) -> None:
        """The call returned or raised: run the result hook, then record (unless it deferred)."""
        if self._started is None:
            return
        was, inside.on = inside.on, True
        try:
            self._end(error, result)
        finally:
            inside.on = was

    def _end(self, error: BaseException | None, result: object) -> None:
        if self._on_result is not None and error is None:
            try:
                self._on_result(self, result)
            except Exception as exc:
                failures.report(f"reading the result of a {self._operation.kind} operation", exc)
        if self._operation.records_from_result and error is None and isinstance(result, (list, tuple)):
            self.add_attributes({names.HISTORY_RECORDS: len(result)})
        if self._token is not None:
            token, self._token = self._token, None
            try:
                otel_context.detach(token)  # type: ignore[arg-type]
            except Exception as exc:
                failures.report("detaching the context", exc)
        if self._deferred and error is None:
            return
        self._finish(error or self._failure)

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
        input_tokens, output_tokens = _token_count(input_tokens), _token_count(output_tokens)
        cache_read, cache_write = _token_count(cache_read), _token_count(cache_write)
        (self._outer or self)._usage = (input_tokens, output_tokens, cache_read, cache_write)
        usage = (
            (names.GEN_AI_USAGE_INPUT_TOKENS, input_tokens),
            (names.GEN_AI_USAGE_OUTPUT_TOKENS, output_tokens),
            (names.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS, cache_read),
            (self._telemetry._cache_write_attribute, cache_write),
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
        histograms = self._telemetry._histograms
        was, inside.on = inside.on, True
        try:
            if self._last_chunk is None:
                histograms[names.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK].record(now - started, self._metric_attributes)
                self.span.set_attribute(names.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK, now - started)
            else:
                histograms[names.CLIENT_TIME_PER_OUTPUT_CHUNK].record(now - self._last_chunk, self._metric_attributes)
        finally:
            inside.on = was
        self._last_chunk = now

    def finish(self, error: BaseException | None = None) -> None:
        """Record duration (usage, memory), set the error status and end the span; once only."""
        was, inside.on = inside.on, True
        try:
            self._finish(error)
        finally:
            inside.on = was

    def _finish(self, error: BaseException | None) -> None:
        started = self._started
        if started is None:
            return
        duration = perf_counter() - started
        self._started = None
        if self._outer is not None:
            return
        telemetry = self._telemetry
        try:
            attributes = self._metric_attributes
            if error is not None:
                kind = telemetry._error_types(error_type(error))
                attributes = {**attributes, names.ERROR_TYPE: kind}
                self.span.set_attribute(names.ERROR_TYPE, kind)
                self.span.set_status(Status(StatusCode.ERROR, kind))
            telemetry._histograms[self._operation.histogram].record(duration, attributes)
            own = max(duration - sum(self._children), 0.0) if self._children else duration
            self.span.set_attribute(names.SELF_TIME, own)
            telemetry._self_times.add(self._operation.kind, attributes, own)
            if self._enclosing is not None:
                self._enclosing._children.append(duration)
            if self._operation.kind == names.KIND_HISTORY:
                self._record_sizes(attributes)
            if self._usage is not None:
                self._record_usage()
            if self._calls is not None:
                self._record_calls(self._calls, attributes)
            if self._snapshot is not None and telemetry._memory is not None:
                for key, delta in telemetry._memory.finish(self._snapshot).items():
                    self.span.set_attribute(key, delta)
                    telemetry._histograms[key].record(max(delta, 0), attributes)
        except Exception as exc:
            failures.report(f"recording {self._operation.kind} operation", exc)
        finally:
            telemetry._active.add(self._operation.kind, -1)
            try:
                self.span.end()
            except Exception as exc:  # a span processor's on_end (the user's own, say) raised
                failures.report("ending a span", exc)

    def _record_sizes(self, attributes: Mapping[str, AttributeValue]) -> None:
        """History size (records, bytes) as seen by this operation, when a store or file told us."""
        for key in (names.HISTORY_RECORDS, names.FILE_SIZE):
            value = self._attributes.get(key)
            if isinstance(value, int):
                self._telemetry._histograms[key].record(value, attributes)

    def _record_calls(self, calls: AgentCalls, attributes: Mapping[str, AttributeValue]) -> None:
        """How many LLM and tool calls this agent invocation made itself (a sub-agent's are its own)."""
        histograms = self._telemetry._histograms
        for key, count in ((names.AGENT_LLM_CALLS, calls.llm), (names.AGENT_TOOL_CALLS, calls.tool)):
            histograms[key].record(count, attributes)
            self.span.set_attribute(key, count)

    def _record_usage(self) -> None:
        """Token histograms, then the cost of those tokens when the model has a price (counted when not)."""
        assert self._usage is not None
        input_tokens, output_tokens, cache_read, cache_write = self._usage
        telemetry, attributes = self._telemetry, self._metric_attributes
        for token_type, tokens in ((names.TOKEN_TYPE_INPUT, input_tokens), (names.TOKEN_TYPE_OUTPUT, output_tokens)):
            if tokens is not None:
                telemetry._histograms[names.GEN_AI_TOKEN_TYPE].record(
                    tokens, {**attributes, names.GEN_AI_TOKEN_TYPE: token_type}
                )
        if cache_read:
            telemetry._counters[names.LLM_CACHED_INPUT_TOKENS].add(cache_read, attributes)
        model = self._attributes.get(names.GEN_AI_RESPONSE_MODEL) or self._attributes.get(names.GEN_AI_REQUEST_MODEL)
        price = prices.table().price(str(model)) if model else None
        if price is None:
            telemetry._counters[names.LLM_UNPRICED].add(1, attributes)
            return
        cost = price.cost(input_tokens or 0, output_tokens or 0, cache_read or 0, cache_write or 0)
        self.span.set_attribute(names.LLM_COST, cost)
        telemetry._counters[names.LLM_COST].add(cost, attributes)
