"""pydantic-settings: constructing a ``BaseSettings`` subclass reads the environment (and any env files)."""

from __future__ import annotations

from types import ModuleType
from typing import Any

from otel_agentperf.conventions import names
from otel_agentperf.wrapping.library import LibraryInstrumentor
from otel_agentperf.wrapping.wrappers import Call

from ..files import config_call
from .loaders import loader


def _prepare(instance: Any, _args: tuple[Any, ...], _kwargs: dict[str, Any]) -> Call:
    return config_call(loader(type(instance).__name__), "pydantic-settings", names.SOURCE_ENV, None)


class PydanticSettingsInstrumentor(LibraryInstrumentor):
    module = "pydantic_settings"
    requirement = "pydantic-settings >= 2.0"

    def patch(self, module: ModuleType) -> None:
        self.wrap(module.BaseSettings, "__init__", loader("BaseSettings"), _prepare)
