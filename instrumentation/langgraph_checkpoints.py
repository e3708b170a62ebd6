"""LangGraph checkpointers: every ``BaseCheckpointSaver`` subclass (in-memory, SQLite, ...), sync and async.

``get_tuple`` reads, ``put`` writes, ``put_writes`` appends, ``list`` searches, ``delete_thread`` deletes.
"""

from __future__ import annotations

from types import ModuleType

from otel_agentperf.library import LibraryInstrumentor

from ._history import method_spec

METHODS = {
    "get_tuple": method_spec("read", reads=False),
    "aget_tuple": method_spec("read", reads=False),
    "put": method_spec("write", reads=False),
    "aput": method_spec("write", reads=False),
    "put_writes": method_spec("append", reads=False),
    "aput_writes": method_spec("append", reads=False),
    "list": method_spec("search", reads=False),
    "alist": method_spec("search", reads=False),
    "delete_thread": method_spec("delete", reads=False),
    "adelete_thread": method_spec("delete", reads=False),
}


class LangGraphCheckpointInstrumentor(LibraryInstrumentor):
    module = "langgraph.checkpoint.base"
    requirement = "langgraph-checkpoint >= 2.0"

    def patch(self, module: ModuleType) -> None:
        self.wrap_hierarchy(module.BaseCheckpointSaver, METHODS)
