"""otel-agentperf: OpenTelemetry performance telemetry for Python AI-agent applications.

Importing this package imports only the OpenTelemetry API, wrapt and the semantic-convention names:
never an instrumented library.
"""

from otel_agentperf.api.decorators import agent, config, create_agent, history, llm, segment, tool, workflow
from otel_agentperf.recording.state import configure
from otel_agentperf.version import __version__

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
