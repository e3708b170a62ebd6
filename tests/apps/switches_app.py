"""Switches app: a PyYAML file load, a decorated tool and a span of the app's own, under the launcher.

It prints what is wrapped, so a test sees whether a switch left wrappers installed.
"""

from __future__ import annotations

import sys

import yaml
from opentelemetry import trace

import otel_agentperf


@otel_agentperf.tool
def lookup(key: str) -> str:
    return key.upper()


def main() -> None:
    with trace.get_tracer("switches-app").start_as_current_span("app-span"):
        with open(sys.argv[1]) as handle:
            settings = yaml.safe_load(handle)
        lookup(settings["model"])
    wrapped = [name for name, value in (("yaml.load", yaml.load), ("lookup", lookup)) if hasattr(value, "__wrapped__")]
    print("wrapped:", ",".join(wrapped) or "-", flush=True)


if __name__ == "__main__":
    main()
