"""``AgentPerfInstrumentor``: applies declarative targets; loaded by ``opentelemetry-instrument``.

Registered under the ``opentelemetry_instrumentor`` entry point group as ``otel_agentperf`` (a name no
library instrumentation uses), so ``OTEL_PYTHON_DISABLED_INSTRUMENTATIONS=otel_agentperf`` turns it off.
Programmatic use::

    from otel_agentperf.api.instrumentor import AgentPerfInstrumentor
    AgentPerfInstrumentor().instrument(tracer_provider=tp, meter_provider=mp)
"""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING, Any, ClassVar

from opentelemetry.instrumentation.instrumentor import BaseInstrumentor  # type: ignore[attr-defined]

from otel_agentperf.conventions import names
from otel_agentperf.recording import cpu_sampler, state
from otel_agentperf.recording.startup import cold_start
from otel_agentperf.runtime import failures, reentry, settings, shutdown

if TYPE_CHECKING:
    from otel_agentperf.api.targets import TargetPatcher


class AgentPerfInstrumentor(BaseInstrumentor):  # type: ignore[misc]
    """Wraps the configured targets; ``uninstrument`` restores the originals."""

    # BaseInstrumentor is a singleton whose __init__ runs on every call: keep state on the class. Made
    # with the first targets: the targets module (and the decorators it imports) is start-up time that a
    # process with no targets need not pay.
    _patcher: ClassVar[TargetPatcher | None] = None

    def instrumentation_dependencies(self) -> Collection[str]:
        return ()

    def _instrument(self, **kwargs: Any) -> None:
        # Nothing raises out of here: the launcher would stop loading every later instrumentor.
        try:
            with reentry.ours():
                loaded = settings.current()
                if not loaded.enabled:
                    return
                tracer_provider = kwargs.get("tracer_provider")
                meter_provider = kwargs.get("meter_provider")
                if tracer_provider is not None or meter_provider is not None or loaded.memory:
                    state.configure(tracer_provider, meter_provider, loaded.memory)
                shutdown.install()
                shutdown.before_last_export(_end_process)
                if loaded.targets:
                    from otel_agentperf.api.targets import TargetPatcher, parse_all

                    if AgentPerfInstrumentor._patcher is None:
                        AgentPerfInstrumentor._patcher = TargetPatcher()
                    AgentPerfInstrumentor._patcher.apply(parse_all(loaded.targets))
                if loaded.cpu_profile:
                    cpu_sampler.sampler.start()
                cold_start.reached(names.STARTUP_INSTRUMENTED, state.telemetry().recorder)
        except Exception as exc:
            failures.report("applying otel-agentperf targets", exc)

    def _uninstrument(self, **kwargs: Any) -> None:
        if self._patcher is not None:
            self._patcher.remove()

    @property
    def applied_targets(self) -> int:
        """How many targets are wrapped right now (for diagnostics and tests)."""
        return 0 if self._patcher is None else self._patcher.applied


def _end_process() -> None:
    """The process's own request, when it made none (``Telemetry.end_process``)."""
    state.telemetry().end_process()
