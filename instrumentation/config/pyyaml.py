"""PyYAML: every load of a file or stream, through ``yaml.load`` and ``yaml.load_all``.

``safe_load``, ``full_load``, ``unsafe_load`` and their ``*_all`` forms all call these two, so wrapping
only them records each load once, without a nested wrapper to pay for; the loader is named ``yaml.load``
(or ``yaml.load_all``).

A YAML string passed in directly is not a file load and is left unrecorded. The ``*_all`` forms all go
through ``yaml.load_all``, a generator: it is wrapped (and recorded as ``yaml.load_all``) rather than the
helpers that only create it, so the load is recorded from the first document until the iterator is
exhausted or closed, and stays lazy.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

from otel_agentperf.wrapping.library import LibraryInstrumentor
from otel_agentperf.wrapping.wrappers import Call

from ..files import config_call
from .loaders import loader, stream_facts

FUNCTIONS = ("load", "load_all")


def _prepare(name: str) -> Any:
    operation = loader(f"yaml.{name}")

    def prepare(_instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Call | None:
        stream = args[0] if args else kwargs.get("stream")
        if stream is None or isinstance(stream, (str, bytes)):
            return None
        source, facts = stream_facts(stream)
        return config_call(operation, "yaml", source, facts)

    return prepare


class PyYAMLInstrumentor(LibraryInstrumentor):
    module = "yaml"
    requirement = "pyyaml >= 5.1"

    def patch(self, module: ModuleType) -> None:
        for name in FUNCTIONS:
            self.wrap(module, name, loader(f"yaml.{name}"), _prepare(name))
