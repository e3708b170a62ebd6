"""The handler every wrapper calls: an operation starts here as a span and an invocation of its kind.

Every decorator, segment, target and library instrumentor goes through :meth:`Telemetry.start` and
:meth:`Invocation.end <otel_agentperf.recording.invocations.Invocation.end>`; none of them creates spans
or records metrics itself. What an operation measured is recorded by the one
:class:`~otel_agentperf.recording.recorder.Recorder`.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from time import perf_counter, time_ns

from opentelemetry import context as otel_context
from opentelemetry import metrics, trace
from opentelemetry.context import Context
from opentelemetry.metrics import MeterProvider
from opentelemetry.trace import TracerProvider
from opentelemetry.util.types import AttributeValue

from otel_agentperf.conventions import instruments, names
from otel_agentperf.recording import bounded, critical_path, keep_hints, loop_clock
from otel_agentperf.recording.invocations import TYPES, AgentInvocation, Invocation, LLMInvocation, ResultHook
from otel_agentperf.recording.memory import MemoryProbe
from otel_agentperf.recording.operations import Operation
from otel_agentperf.recording.recorder import Recorder
from otel_agentperf.recording.slow_log import SlowLog
from otel_agentperf.recording.startup import cold_start
from otel_agentperf.runtime import failures, settings
from otel_agentperf.version import __version__

_AGENT_KEY = otel_context.create_key("agentperf-agent")
_EXCLUSIVE_KEY = otel_context.create_key("agentperf-exclusive-operation")
_LLM_KEY = otel_context.create_key("agentperf-llm-operation")
# The innermost running operation: a finishing operation adds its duration to it, for self time.
_CURRENT_KEY = otel_context.create_key("agentperf-operation")
# Kinds recorded at the outermost level only, and the context key holding the running one of each.
_FOLDED = {names.KIND_CONFIG: _EXCLUSIVE_KEY, names.KIND_HISTORY: _EXCLUSIVE_KEY, names.KIND_LLM: _LLM_KEY}
_ERROR_TYPE_LIMIT = 64


def running_llm() -> LLMInvocation | None:
    """The LLM call running in this context (the outermost, when one is folded into another), if any."""
    found = otel_context.get_value(_LLM_KEY)
    return found if isinstance(found, LLMInvocation) and found.running() else None


def running_operation() -> Invocation | None:
    """The innermost operation running in this context, if any (a folded one's outer operation)."""
    found = otel_context.get_value(_CURRENT_KEY)
    return found if isinstance(found, Invocation) and found.running() else None


def stand_in(kind: str) -> trace.Span | None:
    """A non-recording span in the place of our running operation, when that innermost one is of ``kind``.

    A library that traces itself (the Agent Framework's span helpers, the Anthropic SDK's API-call span)
    gets this instead of opening its own span for the call our operation already records: each call is
    one span, and what the library nests or propagates under its span names ours. None otherwise, so the
    library's own span is left alone whenever we are not recording that very call.
    """
    running = running_operation()
    if running is None or running.kind != kind:
        return None
    return trace.NonRecordingSpan(running.span.get_span_context())


def _loop_running() -> bool:
    """True when this thread runs an asyncio loop: synchronous I/O here blocks every task on it."""
    asyncio = sys.modules.get("asyncio")
    return asyncio is not None and asyncio._get_running_loop() is not None


NO_SDK_MESSAGE = (
    "otel-agentperf: recording, but no OpenTelemetry SDK is set up (the global tracer and meter providers are "
    "the API's no-op ones), so nothing is exported: run the app under opentelemetry-instrument or "
    "otel-agentperf run, or set the SDK up at its start with: "
    "from opentelemetry.instrumentation.auto_instrumentation import initialize; initialize() (see the README)"
)


def _say_if_nothing_is_set_up() -> None:
    """One warning when the first operation records into the API's no-op providers: decorators alone export nothing.

    The API package's own providers (``opentelemetry.trace``, ``opentelemetry.metrics``) are only the
    no-op ones and the proxies that stand in until an SDK provider is set; any other is a real one.
    """
    tracer_module = type(trace.get_tracer_provider()).__module__
    meter_module = type(metrics.get_meter_provider()).__module__
    if tracer_module.startswith("opentelemetry.trace") and meter_module.startswith("opentelemetry.metrics"):
        failures.warn_once("no-sdk", NO_SDK_MESSAGE)


class Telemetry:
    """Tracer, recorder, bounds and memory probe for one pair of providers (the global ones unless given)."""

    def __init__(
        self,
        tracer_provider: TracerProvider | None = None,
        meter_provider: MeterProvider | None = None,
        memory_modes: frozenset[str] | None = None,
    ) -> None:
        loaded = settings.current()
        self.instruments = instruments.catalogue(loaded.latest_experimental)
        schema_url = self.instruments.schema_url
        self.tracer = trace.get_tracer(names.SCOPE_NAME, __version__, tracer_provider, schema_url=schema_url)
        meter = metrics.get_meter(names.SCOPE_NAME, __version__, meter_provider, schema_url=schema_url)
        self.recorder = Recorder(meter, self.instruments)
        modes = loaded.memory if memory_modes is None else memory_modes
        self.memory = MemoryProbe(modes) if modes else None
        self.error_types = bounded.BoundedValues(_ERROR_TYPE_LIMIT)
        self.bounds = bounded.Bounds()
        self.block_threshold = loaded.loop_block_threshold_s
        self.slow = SlowLog(dict(loaded.slow_thresholds_s))
        self.process = critical_path.ProcessPath()
        self.recent = keep_hints.RecentLatency()
        self.keep_cost = loaded.keep_cost_usd
        self._made_from = (tracer_provider, meter_provider, memory_modes)
        # A tool's attributes inside each agent it is called in (``_tool_in_agent``).
        self._in_agent: dict[tuple[Operation, str], tuple[Mapping[str, AttributeValue], Mapping[str, AttributeValue]]]
        self._in_agent = {}
        # Explicit providers are the caller's choice; the global ones are looked at on the first operation.
        self._providers_checked = tracer_provider is not None or meter_provider is not None

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

    def end_process(self) -> None:
        """At exit: the process's request, when it made none of its own (``critical_path.ProcessPath``),
        named by its resource's ``service.name``, as the spans it exported are."""
        try:
            name = _service_name(self._made_from[0], self._made_from[1])
            found = self.process.decomposition(name)
            if found is not None:
                self.recorder.request(names.KIND_PROCESS, name, *found)
        except Exception as exc:
            failures.report("recording the process's request", exc)

    def _tool_in_agent(
        self, operation: Operation, agent: str, metric_attributes: Mapping[str, AttributeValue]
    ) -> tuple[Mapping[str, AttributeValue], Mapping[str, AttributeValue]]:
        """A tool's metric and span attributes when an agent named ``agent`` calls it, made on its first such
        call and then read (at most ``bounded.CACHED_OPERATIONS`` pairs): the same mappings every time, which
        spares each call two merges and a bounds pass, and lets the critical path name it by identity. The
        agent's name is bounded as on every call: a name once let through, or once past its cap, stays so."""
        key = (operation, agent)
        found = self._in_agent.get(key)
        if found is None:
            extra = {names.GEN_AI_AGENT_NAME: agent}
            found = (
                {**metric_attributes, **self.bounds.metric_attributes(extra)},
                {**operation.span_attributes, **extra},
            )
            if len(self._in_agent) < bounded.CACHED_OPERATIONS:
                self._in_agent[key] = found
        return found

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
        steps: bool = False,
    ) -> Invocation:
        """Begin ``operation``; with ``attach`` its span becomes current until :meth:`Invocation.end`.

        ``sync``: the call runs synchronously on this thread (``steps``: in steps, a generator's, each timed
        by its wrapper). ``attributes`` go on the span, ``metric_attributes`` on the span and the metrics.
        Generators pass ``attach=False`` and make :attr:`Invocation.context` current around each step;
        ``parent`` (default: the current context) is for frameworks that report their own span tree. A
        config, history or LLM operation inside another of its kind is folded into the outer one: its
        attributes, usage and result reach the outer operation, and nothing is recorded twice (a user loader
        calling ``yaml.safe_load`` is one load; a framework's model call through an instrumented SDK is one
        call).
        """
        if not self._providers_checked:
            self._providers_checked = True
            _say_if_nothing_is_set_up()
        kind = operation.kind
        invocation_type = TYPES.get(kind, Invocation)
        fold_key = _FOLDED.get(kind)
        if fold_key is not None:
            outer = otel_context.get_value(fold_key, parent)
            if isinstance(outer, Invocation) and outer.kind == kind and outer.running():
                outer.add_attributes(attributes, {**operation.metric_attributes, **(metric_attributes or {})})
                return invocation_type(
                    self,
                    operation,
                    outer.span,
                    span_attributes={},
                    metric_attributes={},
                    on_result=on_result,
                    outer=outer,
                )
        span_attributes = operation.span_attributes
        metrics_attributes = self.bounds.of_operation(operation, operation.metric_attributes)
        # What this call adds to the operation's own attributes: real values on the span, bounded on metrics.
        extra = dict(metric_attributes) if metric_attributes else None
        agent: object = None
        in_agent: tuple[Mapping[str, AttributeValue], Mapping[str, AttributeValue]] | None = None
        if kind == names.KIND_TOOL or kind == names.KIND_LLM:
            agent = otel_context.get_value(_AGENT_KEY, parent)
            if isinstance(agent, AgentInvocation):
                provider = operation.metric_attributes.get(names.GEN_AI_PROVIDER_NAME)
                agent.count(kind, provider or (metric_attributes or {}).get(names.GEN_AI_PROVIDER_NAME))
                if kind == names.KIND_TOOL:
                    if extra is None and not attributes:  # a decorated tool: its attributes in this agent, made once
                        in_agent = self._tool_in_agent(operation, agent.name, metrics_attributes)
                    else:
                        extra = {**(extra or {}), names.GEN_AI_AGENT_NAME: agent.name}
        if in_agent is not None:
            metrics_attributes, span_attributes = in_agent
        else:
            if extra:
                metrics_attributes = {**metrics_attributes, **self.bounds.metric_attributes(extra)}
            if attributes or extra:
                span_attributes = {**span_attributes, **(extra or {}), **(attributes or {})}
        # The span starts and ends when the operation's own clock says (``Invocation.started_ns``), so a
        # trace's intervals are the ones its metrics and critical path were measured over.
        started_ns, started = time_ns(), perf_counter()
        span = self.tracer.start_span(
            operation.span_name, parent, kind=operation.span_kind, attributes=span_attributes, start_time=started_ns
        )
        enclosing = otel_context.get_value(_CURRENT_KEY, parent)
        invocation = invocation_type(
            self,
            operation,
            span,
            span_attributes=span_attributes,
            metric_attributes=metrics_attributes,
            on_result=on_result,
            on_item=on_item,
            enclosing=enclosing if isinstance(enclosing, Invocation) else None,
            snapshot=self.memory.start() if self.memory is not None else None,
            on_loop=_loop_running() if sync else None,
            steps=steps,
            waits_on=None if sync else loop_clock.current(),
            started=(started_ns, started),
        )
        if isinstance(invocation, LLMInvocation) and isinstance(agent, AgentInvocation):
            invocation.converses_in(agent)
        ctx = otel_context.set_value(_CURRENT_KEY, invocation, trace.set_span_in_context(span, parent))
        if kind == names.KIND_AGENT:
            ctx = otel_context.set_value(_AGENT_KEY, invocation, ctx)
            cold_start.reached(names.STARTUP_FIRST_AGENT, self.recorder, ctx, self.tracer)
        if fold_key is not None:
            ctx = otel_context.set_value(fold_key, invocation, ctx)
        invocation.context = ctx
        if attach:
            invocation.attach()
        self.recorder.started(kind)
        return invocation


def _service_name(tracer_provider: TracerProvider | None, meter_provider: MeterProvider | None) -> str:
    """The ``service.name`` of the SDK's resource: the tracer provider's, else (traces off) the meter
    provider's (the SDK keeps it in its configuration); the SDK's default when neither has one."""
    tracers = tracer_provider or trace.get_tracer_provider()
    meters = meter_provider or metrics.get_meter_provider()
    for resource in (
        getattr(tracers, "resource", None),
        getattr(getattr(meters, "_sdk_config", None), "resource", None),
    ):
        name = getattr(resource, "attributes", {}).get(names.SERVICE_NAME)
        if isinstance(name, str) and name:
            return name
    return names.UNKNOWN_SERVICE
