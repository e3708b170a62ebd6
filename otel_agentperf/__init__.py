"""otel-agentperf: OpenTelemetry performance telemetry for Python AI-agent applications.

Importing this package never imports an instrumented library or the SDK. The public names load on first
use (PEP 562), with the OpenTelemetry API, wrapt and the convention names behind them:
``opentelemetry-instrument`` imports submodules of the package in its own process (the environment check)
and before the app (the pre-instrument hook), and neither needs the decorators.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from otel_agentperf.version import __version__

if TYPE_CHECKING:
    from otel_agentperf.api.decorators import agent, config, create_agent, history, llm, segment, tool, workflow
    from otel_agentperf.recording.state import configure

# Public name -> the module that defines it.
_LAZY = {
    "agent": "otel_agentperf.api.decorators",
    "config": "otel_agentperf.api.decorators",
    "create_agent": "otel_agentperf.api.decorators",
    "history": "otel_agentperf.api.decorators",
    "llm": "otel_agentperf.api.decorators",
    "segment": "otel_agentperf.api.decorators",
    "tool": "otel_agentperf.api.decorators",
    "workflow": "otel_agentperf.api.decorators",
    "configure": "otel_agentperf.recording.state",
}

__all__ = [
    "__version__",
    "agent",
    "config",
    "configure",
    "create_agent",
    "history",
    "llm",
    "segment",
    "tool",
    "workflow",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # the next look-up is an ordinary attribute
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})
