"""Settings from settings.yaml, parsed once at start-up and kept."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import yaml

SETTINGS_FILE = Path(__file__).with_name("settings.yaml")


@functools.cache
def load_settings() -> dict[str, Any]:
    with SETTINGS_FILE.open(encoding="utf-8") as handle:
        return dict(yaml.safe_load(handle))
