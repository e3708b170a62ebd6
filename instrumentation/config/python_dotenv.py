"""python-dotenv: ``load_dotenv`` and ``dotenv_values`` (from a path, a stream, or the found ``.env``)."""

from __future__ import annotations

from types import ModuleType
from typing import Any

from otel_agentperf.conventions import names
from otel_agentperf.wrapping.library import LibraryInstrumentor
from otel_agentperf.wrapping.wrappers import Call

from ..files import config_call, from_path
from .loaders import loader, stream_facts


def _prepare(name: str) -> Any:
    operation = loader(f"dotenv.{name}")

    def prepare(_instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Call | None:
        path = args[0] if args else kwargs.get("dotenv_path")
        stream = args[1] if len(args) > 1 else kwargs.get("stream")
        if path is None and stream is not None:
            source, facts = stream_facts(stream)
            return config_call(operation, "dotenv", source, facts)
        return config_call(operation, "dotenv", names.SOURCE_FILE, from_path(path))

    return prepare


class DotenvInstrumentor(LibraryInstrumentor):
    module = "dotenv"
    requirement = "python-dotenv >= 0.19"

    def patch(self, module: ModuleType) -> None:
        for name in ("load_dotenv", "dotenv_values"):
            self.wrap(module, name, loader(f"dotenv.{name}"), _prepare(name))
