"""An app that works until Ctrl-C: one agent invocation (two tools) every 50 ms; on SIGINT it says so and
exits 0, for ``otel-agentperf run --live`` in a real terminal."""

from __future__ import annotations

import time

from run_app import support_agent


def main() -> None:
    try:
        while True:
            support_agent("L1")
            time.sleep(0.05)
    except KeyboardInterrupt:
        print("app interrupted", flush=True)


if __name__ == "__main__":
    main()
