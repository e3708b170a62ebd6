"""LangChain chat message histories: every ``BaseChatMessageHistory`` subclass, present or future.

Reads are ``aget_messages`` and a ``messages`` property (a plain ``messages`` field, as on the in-memory
history, is an attribute read and not recorded); appends are ``add_message(s)``/``aadd_messages`` and the
``add_*_message`` helpers; deletes are ``clear``/``aclear``.
"""

from __future__ import annotations

from types import ModuleType

from otel_agentperf.library import LibraryInstrumentor

from ._history import method_spec

METHODS = {
    "messages": method_spec("read", reads=True),
    "aget_messages": method_spec("read", reads=True),
    "add_message": method_spec("append", reads=False),
    "add_messages": method_spec("append", reads=False),
    "aadd_messages": method_spec("append", reads=False),
    "add_user_message": method_spec("append", reads=False),
    "add_ai_message": method_spec("append", reads=False),
    "clear": method_spec("delete", reads=False),
    "aclear": method_spec("delete", reads=False),
}


class LangChainHistoryInstrumentor(LibraryInstrumentor):
    module = "langchain_core.chat_history"
    requirement = "langchain-core >= 0.3"

    def patch(self, module: ModuleType) -> None:
        self.wrap_hierarchy(module.BaseChatMessageHistory, METHODS, optional=frozenset({"messages"}))
