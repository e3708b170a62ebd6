"""The coach agent: built per message, it reads its settings and records the run in the history."""

from __future__ import annotations

import asyncio
from pathlib import Path

from myapp.cfg import load_config
from myapp.history import HistoryManager

SETTINGS = Path(__file__).with_name("settings.toml")


class Coach:
    def __init__(self, history: HistoryManager) -> None:
        self.history = history
        self.settings = load_config(SETTINGS)

    async def process_message(self, text: str) -> str:
        await asyncio.sleep(0.01)  # the model's answer
        return self.history.append({"text": text, "model": self.settings["model"]})
