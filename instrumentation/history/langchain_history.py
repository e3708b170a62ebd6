"""LangChain chat message histories: every ``BaseChatMessageHistory`` subclass, present or future.

Reads are ``aget_messages`` and a ``messages`` property (a plain ``messages`` field, as on the in-memory
history, is an attribute read and not recorded); appends are ``add_message(s)``/``aadd_messages`` and the
``add_*_message`` helpers; deletes are ``clear``/``aclear``.
"""

from __future__ import annotations

from types import ModuleType

from otel_agentperf.wrapping.library import LibraryInstrumentor

from .stores import methods

METHODS = methods(
    reads={"read": ["messages", "aget_messages"]},
    others={
        "append": ["add_message", "add_messages", "aadd_messages", "add_user_message", "add_ai_message"],
        "delete": ["clear", "aclear"],
    },
)


class LangChainHistoryInstrumentor(LibraryInstrumentor):
    module = "langchain_core.chat_history"
    requirement = "langchain-core >= 0.3"

    def patch(self, module: ModuleType) -> None:
        self.wrap_hierarchy(module.BaseChatMessageHistory, METHODS, optional=frozenset({"messages"}))
