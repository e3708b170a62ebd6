"""Run the research assistant: ``python -m research_assistant [--rounds N] [--linger]``."""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path

from research_assistant.agents import Orchestrator

QUESTIONS = [
    ("what drives latency", "3/2"),
    ("how are tokens billed", "10/4"),
    ("when does a cache help", "1/0"),
    ("how to set a budget", "7/7"),
]


def main() -> None:
    parser = argparse.ArgumentParser(prog="research_assistant")
    parser.add_argument("--rounds", type=int, default=3, help="how many rounds of questions to run")
    parser.add_argument("--linger", action="store_true", help="after the work, wait for stdin to close")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="research-assistant-") as workdir:
        orchestrator = Orchestrator(Path(workdir))
        answered = 0
        for _ in range(args.rounds):
            answered += len(asyncio.run(orchestrator.run(QUESTIONS)))
        print(f"answered {answered} questions", flush=True)
        print("ready", flush=True)
        if args.linger:
            sys.stdin.read()


if __name__ == "__main__":
    main()
