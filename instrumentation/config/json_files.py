"""``json.load`` and ``json.dump`` on files whose names classify them as config or history.

Patterns come from ``OTEL_AGENTPERF_CONFIG_FILES`` / ``OTEL_AGENTPERF_HISTORY_FILES`` or the settings
file (defaults in ``otel_agentperf.runtime.settings``); they match the file's base name. A file that matches
neither is not recorded, so ordinary JSON handling costs one name check. ``json.loads`` is untouched.
"""

from __future__ import annotations

import fnmatch
import functools
import os
from types import ModuleType
from typing import Any

from otel_agentperf.conventions import names
from otel_agentperf.recording import operations
from otel_agentperf.runtime import settings
from otel_agentperf.wrapping.library import LibraryInstrumentor
from otel_agentperf.wrapping.wrappers import Call

from ..files import config_call, from_stream, history_file_call
from .loaders import loader

_STORE = "json-file"


class JsonFilesInstrumentor(LibraryInstrumentor):
    module = "json"
    requirement = None  # standard library

    def patch(self, module: ModuleType) -> None:
        loaded = settings.current()
        config_patterns, history_patterns = loaded.config_files, loaded.history_files
        load_op = loader("json.load")
        read_op = operations.history(_STORE, "read")
        write_op = operations.history(_STORE, "write")

        @functools.lru_cache(maxsize=1024)
        def classify_name(base: str) -> str | None:
            if any(fnmatch.fnmatch(base, pattern) for pattern in config_patterns):
                return names.KIND_CONFIG
            if any(fnmatch.fnmatch(base, pattern) for pattern in history_patterns):
                return names.KIND_HISTORY
            return None

        def classify(stream: Any) -> str | None:
            name = getattr(stream, "name", None)
            return classify_name(os.path.basename(name)) if isinstance(name, str) else None

        def prepare_load(_instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Call | None:
            stream = args[0] if args else kwargs.get("fp")
            kind = classify(stream)
            if kind == names.KIND_CONFIG:
                return config_call(load_op, "json", names.SOURCE_FILE, from_stream(stream))
            if kind == names.KIND_HISTORY:
                return history_file_call(read_op, from_stream(stream))
            return None

        def prepare_dump(_instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Call | None:
            stream = args[1] if len(args) > 1 else kwargs.get("fp")
            if classify(stream) != names.KIND_HISTORY:
                return None
            return history_file_call(write_op, from_stream(stream))

        self.wrap(module, "load", load_op, prepare_load)
        self.wrap(module, "dump", write_op, prepare_dump)
