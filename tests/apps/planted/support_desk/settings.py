"""Settings from settings.yaml, read the simple way: parsed again every time someone asks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from appkit import Stopwatch

SETTINGS_FILE = Path(__file__).with_name("settings.yaml")
PARSES = Stopwatch()  # the app's own timing of each parse


def load_settings() -> dict[str, Any]:
    with SETTINGS_FILE.open(encoding="utf-8") as handle, PARSES.timing():
        return dict(yaml.safe_load(handle))
