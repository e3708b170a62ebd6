"""LangGraph: a graph run is ``invoke_workflow``; a run of an agent graph is ``invoke_agent``.

``Pregel.stream``/``astream`` are wrapped: ``invoke``, ``ainvoke``, ``batch`` and ``astream_events``
all run through them, so every way of running a graph is one operation, and a subgraph (an agent used
as a node) nests inside its parent. The span is current only while the graph's own code runs, and
LangGraph copies the context into the threads and tasks that run nodes, so nodes, tools and LLM calls
land under the right run even with many runs in flight. Agent graphs are the ones built by
``langgraph.prebuilt.create_react_agent`` or ``langchain.agents.create_agent``: those factories are
wrapped to remember the graph's builder (weakly; copies made by ``with_config`` share it).
"""

from __future__ import annotations

import functools
import weakref
from collections.abc import Callable
from types import ModuleType
from typing import Any

import wrapt

from otel_agentperf.conventions import names
from otel_agentperf.recording.operations import named
from otel_agentperf.runtime import failures
from otel_agentperf.wrapping.library import LibraryInstrumentor
from otel_agentperf.wrapping.wrappers import Call

DEFAULT_NAME = "LangGraph"
# Agent factories: (module, function); the builders of the graphs they return are agents.
AGENT_FACTORIES = (
    ("langgraph.prebuilt.chat_agent_executor", "create_react_agent"),
    ("langgraph.prebuilt", "create_react_agent"),
    ("langchain.agents.factory", "create_agent"),
    ("langchain.agents", "create_agent"),
)

agent_builders: weakref.WeakSet[Any] = weakref.WeakSet()


class _AgentFactory(wrapt.FunctionWrapper):  # type: ignore[type-arg]
    """Marks a wrapped agent factory, so it is wrapped once whichever module it is reached through."""


def _remember_agent(wrapped: Any, _instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    graph = wrapped(*args, **kwargs)
    try:
        builder = getattr(graph, "builder", None)
        if builder is not None:
            agent_builders.add(builder)
    except Exception as exc:
        failures.report("remembering an agent graph", exc)
    return graph


def _prepare(instance: Any, _args: tuple[Any, ...], _kwargs: dict[str, Any]) -> Call:
    builder = getattr(instance, "builder", None)
    kind = names.KIND_AGENT if builder is not None and builder in agent_builders else names.KIND_WORKFLOW
    return Call(named(kind, str(getattr(instance, "name", None) or DEFAULT_NAME)))


class LangGraphInstrumentor(LibraryInstrumentor):
    module = "langgraph.pregel"
    requirement = "langgraph >= 0.3"

    def patch(self, module: ModuleType) -> None:
        spec = lambda _cls, _name: (named(names.KIND_WORKFLOW, DEFAULT_NAME), _prepare)  # noqa: E731
        self.wrap_hierarchy(module.Pregel, {"stream": spec, "astream": spec})

    def hooks(self) -> list[tuple[str, Callable[[ModuleType], None]]]:
        factories = [(name, functools.partial(self._mark_agents, function)) for name, function in AGENT_FACTORIES]
        return [*super().hooks(), *factories]

    def _mark_agents(self, function: str, module: ModuleType) -> None:
        if not isinstance(vars(module).get(function), _AgentFactory):
            self.replace(module, function, lambda original: _AgentFactory(original, _remember_agent), optional=True)
