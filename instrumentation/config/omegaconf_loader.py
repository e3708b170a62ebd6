"""OmegaConf: ``OmegaConf.load`` of a YAML file path or stream."""

from __future__ import annotations

from types import ModuleType
from typing import Any

from otel_agentperf.wrapping.library import LibraryInstrumentor
from otel_agentperf.wrapping.wrappers import Call

from ..files import config_call
from .loaders import loader, path_or_stream_facts


def _prepare(_instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Call:
    source, facts = path_or_stream_facts(args[0] if args else kwargs.get("file_"))
    return config_call(loader("OmegaConf.load"), "yaml", source, facts)


class OmegaConfInstrumentor(LibraryInstrumentor):
    module = "omegaconf"
    requirement = "omegaconf >= 2.0"

    def patch(self, module: ModuleType) -> None:
        self.wrap(module.OmegaConf, "load", loader("OmegaConf.load"), _prepare)
