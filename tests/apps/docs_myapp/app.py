"""The app of the README's production examples (``python app.py``): three messages to a coach agent.

It holds no otel-agentperf code: the README's targets name its functions. It touches ``ready`` when its
work is done and, with ``APP_LINGER`` set, keeps serving its metrics until ``stop`` exists.
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

from myapp.agents import Coach
from myapp.history import HistoryManager


async def main() -> None:
    history = HistoryManager()
    for text in ("plan my week", "move the run to friday", "what did I plan?"):
        run_id = await Coach(history).process_message(text)
        history.get_execution_by_id(run_id)
        history.runs_matching(text)
    print("handled 3 messages")


if __name__ == "__main__":
    asyncio.run(main())
    Path("ready").touch()
    while os.environ.get("APP_LINGER") and not Path("stop").exists():
        time.sleep(0.1)
