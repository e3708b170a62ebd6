"""``configparser``: ``RawConfigParser.read`` (and so ``ConfigParser.read``) of INI files."""

from __future__ import annotations

import os
from types import ModuleType
from typing import Any

from otel_agentperf.conventions import names
from otel_agentperf.wrapping.library import LibraryInstrumentor
from otel_agentperf.wrapping.wrappers import Call

from ..files import config_call, from_path
from .loaders import loader


def _prepare(_instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Call:
    filenames = args[0] if args else kwargs.get("filenames")
    first = filenames if isinstance(filenames, (str, bytes, os.PathLike)) else next(iter(filenames or ()), None)
    return config_call(loader("configparser.read"), "ini", names.SOURCE_FILE, from_path(first))


class ConfigParserInstrumentor(LibraryInstrumentor):
    module = "configparser"
    requirement = None  # standard library

    def patch(self, module: ModuleType) -> None:
        self.wrap(module.RawConfigParser, "read", loader("configparser.read"), _prepare)
