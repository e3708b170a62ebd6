"""Settings from a TOML file, read anew each time they are asked for (as such helpers often are)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import tomllib


def load_config(path: Path) -> dict[str, Any]:
    with open(path, "rb") as file:
        return tomllib.load(file)
