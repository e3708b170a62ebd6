"""Settings loading, done the way many apps do it: from disk, every time someone asks."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

SETTINGS_FILE = Path(__file__).with_name("settings.toml")


def load_settings(path: Path = SETTINGS_FILE) -> dict[str, Any]:
    with path.open("rb") as handle:
        return tomllib.load(handle)
