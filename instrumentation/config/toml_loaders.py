"""``tomllib.load`` (standard library) and ``tomli.load``: TOML config files read from a binary file."""

from __future__ import annotations

from types import ModuleType
from typing import Any

from otel_agentperf.wrapping.library import LibraryInstrumentor
from otel_agentperf.wrapping.wrappers import Call

from ..files import config_call
from .loaders import loader, stream_facts


class _TomlInstrumentor(LibraryInstrumentor):
    def patch(self, module: ModuleType) -> None:
        operation = loader(f"{self.module}.load")

        def prepare(_instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Call | None:
            stream = args[0] if args else kwargs.get("fp")
            source, facts = stream_facts(stream)
            return config_call(operation, "toml", source, facts)

        self.wrap(module, "load", operation, prepare)


class TomllibInstrumentor(_TomlInstrumentor):
    module = "tomllib"
    requirement = None  # standard library since Python 3.11


class TomliInstrumentor(_TomlInstrumentor):
    module = "tomli"
    requirement = "tomli >= 1.1"
