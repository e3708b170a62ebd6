"""An app that knows nothing of OpenTelemetry, for the operator-injection test: its ``main``.

Its ``lookup`` is recorded only through ``OTEL_AGENTPERF_TARGETS`` (``plain_app:lookup=tool``), as an app
instrumented by the OpenTelemetry Operator is; the module is imported (a target names an imported module,
never ``__main__``). It calls ``lookup`` three times, prints ``ready`` and serves
whatever exporter it was given until stdin closes.
"""

from __future__ import annotations

import sys


def lookup(question: str) -> str:
    return f"notes on {question}"


def main() -> None:
    for index in range(3):
        lookup(f"question {index}")
    print("ready", flush=True)
    sys.stdin.read()
