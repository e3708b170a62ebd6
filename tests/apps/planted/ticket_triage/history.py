"""Ticket history in a JSONL file: one line per event, appended as tickets come in, scanned to look one up."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from appkit import Stopwatch

LOOKUPS = Stopwatch()  # the app's own timing of each lookup


class TicketHistory:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.path.touch()

    def append(self, records: list[dict[str, Any]]) -> None:
        with self.path.open("a", encoding="utf-8") as handle:
            handle.writelines(json.dumps(record) + "\n" for record in records)

    def latest_for(self, customer: str) -> dict[str, Any] | None:
        """The customer's latest ticket event: read every line, keep the last match."""
        with LOOKUPS.timing():
            found = None
            with self.path.open(encoding="utf-8") as handle:
                for line in handle:
                    record = json.loads(line)
                    if record["customer"] == customer:
                        found = record
            return found


def seed(path: Path, count: int) -> None:
    """Last month's tickets, imported when the service starts."""
    with path.open("w", encoding="utf-8") as handle:
        for index in range(count):
            record = {
                "ticket": f"T-{index:06d}",
                "customer": f"C-{index % 97:03d}",
                "event": "note",
                "text": f"customer wrote about order {index}, status pending, follow-up requested",
            }
            handle.write(json.dumps(record) + "\n")
