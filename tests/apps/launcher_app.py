"""A plain app with no otel-agentperf code: the launcher tests instrument it through targets only."""

from __future__ import annotations

import asyncio
import sys

from launcher_agents import Coach, lookup


def main() -> None:
    coach = Coach()
    for text in ("hello", "world", "again"):
        coach.process_message(text)
        asyncio.run(coach.reflect(text))
        lookup(text)
    print("ready", flush=True)
    if "--linger" in sys.argv:
        sys.stdin.read()  # stay alive (serving /metrics) until the test closes our stdin


if __name__ == "__main__":
    main()
