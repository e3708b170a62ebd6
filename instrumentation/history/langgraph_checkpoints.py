"""LangGraph checkpointers: every ``BaseCheckpointSaver`` subclass (in-memory, SQLite, ...), sync and async.

``get_tuple`` reads, ``put`` writes, ``put_writes`` appends, ``list`` searches, ``delete_thread`` deletes.
"""

from __future__ import annotations

from types import ModuleType

from otel_agentperf.wrapping.library import LibraryInstrumentor

from .stores import methods

METHODS = methods(
    reads={},
    others={
        "read": ["get_tuple", "aget_tuple"],
        "write": ["put", "aput"],
        "append": ["put_writes", "aput_writes"],
        "search": ["list", "alist"],
        "delete": ["delete_thread", "adelete_thread"],
    },
)


class LangGraphCheckpointInstrumentor(LibraryInstrumentor):
    module = "langgraph.checkpoint.base"
    requirement = "langgraph-checkpoint >= 2.0"

    def patch(self, module: ModuleType) -> None:
        self.wrap_hierarchy(module.BaseCheckpointSaver, METHODS)
