"""One warning when OTLP export has failed and never succeeded: telemetry sent where nothing listens.

The SDK's exporters log each failed attempt in their own words (``Failed to export traces to
localhost:4317``), among the app's output, and a newcomer who never set an endpoint does not know that
the default one is meant. The OTLP span and metric exporters' ``export`` is watched (under the launcher,
after the SDK is set up): the first failure of a signal that has not yet had a success is said once, in
one line naming the variables that decide where it goes. A success, before or after, is all it counts.
"""

from __future__ import annotations

from typing import Any

import wrapt

from otel_agentperf.runtime import failures

# (module, class, signal): the OTLP exporters of both protocols the SDK configurator can pick.
_EXPORTERS = (
    ("opentelemetry.exporter.otlp.proto.grpc.trace_exporter", "OTLPSpanExporter", "traces"),
    ("opentelemetry.exporter.otlp.proto.http.trace_exporter", "OTLPSpanExporter", "traces"),
    ("opentelemetry.exporter.otlp.proto.grpc.metric_exporter", "OTLPMetricExporter", "metrics"),
    ("opentelemetry.exporter.otlp.proto.http.metric_exporter", "OTLPMetricExporter", "metrics"),
)
_succeeded: set[str] = set()
_installed = False


def message(signal: str) -> str:
    """What the warning says for ``signal``."""
    variable = f"OTEL_EXPORTER_OTLP_{signal.upper()}_ENDPOINT"
    return (
        f"otel-agentperf: no OTLP export of {signal} has succeeded yet (the exporter's log above says why): "
        f"is anything listening at the endpoint? Set OTEL_EXPORTER_OTLP_ENDPOINT (or {variable}) to where "
        f"{signal} should go, or OTEL_{signal.upper()}_EXPORTER=none; otel-agentperf run receives them locally"
    )


def _watcher(signal: str) -> Any:
    def export(wrapped: Any, _instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        result = wrapped(*args, **kwargs)  # called exactly once, whatever happens below
        try:
            if getattr(result, "name", None) == "SUCCESS":
                _succeeded.add(signal)
            elif signal not in _succeeded:
                failures.warn_once(f"otlp-never:{signal}", message(signal))
        except Exception as exc:
            failures.report("watching OTLP export", exc)
        return result

    return export


def install() -> None:
    """Watch each OTLP exporter class, now if imported, else when it is; once per process."""
    global _installed
    if _installed:
        return
    _installed = True
    for module, name, signal in _EXPORTERS:
        wrapt.register_post_import_hook(_hook(name, signal), module)


def _hook(name: str, signal: str) -> Any:
    """Wrap ``name.export`` in the module once it is imported."""

    def wrap(module: Any) -> None:
        wrapt.wrap_function_wrapper(module, f"{name}.export", _watcher(signal))

    return wrap
