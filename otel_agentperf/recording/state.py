"""The package-wide :class:`Telemetry`, created on first use from the global providers.

Decorators and targets look it up on every call, so :func:`configure` (tests, or an explicit
``instrument(tracer_provider=..., meter_provider=...)``) re-points them without re-wrapping.
"""

from __future__ import annotations

from opentelemetry.metrics import MeterProvider
from opentelemetry.trace import TracerProvider

from otel_agentperf.recording.telemetry import Telemetry
from otel_agentperf.runtime import forksafe

_telemetry: Telemetry | None = None
_lock = forksafe.lock()


def telemetry() -> Telemetry:
    """The current telemetry handler; built from the global providers on first use."""
    current = _telemetry
    if current is not None:
        return current
    return _create()


def _create() -> Telemetry:
    global _telemetry
    with _lock:
        if _telemetry is None:
            _telemetry = Telemetry()
        return _telemetry


def configure(
    tracer_provider: TracerProvider | None = None,
    meter_provider: MeterProvider | None = None,
    memory: frozenset[str] | None = None,
) -> Telemetry:
    """Record through these providers (the global ones when ``None``) from now on.

    Asked again for the providers and memory modes in use (several instrumentors given the same explicit
    providers), the current state is kept: new instruments on the same meter would not be observed.
    """
    global _telemetry
    with _lock:
        current = _telemetry
        if current is None or not current.uses(tracer_provider, meter_provider, memory):
            current = _telemetry = Telemetry(tracer_provider, meter_provider, memory)
        return current
