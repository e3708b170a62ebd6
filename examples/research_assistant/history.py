"""A JSONL conversation history: appends a line per record, looks records up by scanning the file."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any


class HistoryStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self.path.touch()

    def append(self, record: dict[str, Any]) -> None:
        with self._lock, self.path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(record) + "\n")

    def get_by_id(self, record_id: str) -> dict[str, Any] | None:
        with self.path.open(encoding="utf-8") as handle:
            for line in handle:
                record = json.loads(line)
                if record.get("id") == record_id:
                    return dict(record)
        return None

    def recent(self, count: int) -> list[dict[str, Any]]:
        with self.path.open(encoding="utf-8") as handle:
            lines = handle.readlines()
        return [json.loads(line) for line in lines[-count:]]
