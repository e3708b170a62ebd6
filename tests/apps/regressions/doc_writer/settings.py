"""The doc writer's settings: the models it calls, from ``writer.toml`` beside this module or the TOML file
``DOC_WRITER_SETTINGS`` names."""

from __future__ import annotations

import os
import sys
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

_FILE = Path(os.environ.get("DOC_WRITER_SETTINGS") or Path(__file__).with_name("writer.toml"))
MODELS: dict[str, str] = tomllib.loads(_FILE.read_text(encoding="utf-8"))["models"]
DRAFT_PRICES = (2.0, 8.0)  # US dollars per million input and output tokens, both draft models alike
