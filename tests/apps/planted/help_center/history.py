"""Each conversation's transcript, appended one line at a time to a file kept open."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any


class Transcript:
    def __init__(self) -> None:
        self.path = Path(tempfile.mkdtemp(prefix="help-center-")) / "transcript.jsonl"
        self.handle = self.path.open("a", encoding="utf-8")

    def append(self, event: dict[str, Any]) -> None:
        self.handle.write(json.dumps(event) + "\n")
