"""What the history-store instrumentors share: operations named after the store's own class."""

from __future__ import annotations

import functools
from typing import Any

from otel_agentperf.recording import operations
from otel_agentperf.recording.operations import Operation
from otel_agentperf.wrapping.patching import MethodSpec
from otel_agentperf.wrapping.wrappers import Call, Prepare


@functools.lru_cache(maxsize=512)
def store_operation(store: str, operation: str, reads: bool) -> Operation:
    return operations.history(store, operation, records_from_result=reads)


def method_spec(operation: str, reads: bool) -> MethodSpec:
    """A wrap_hierarchy spec: the store is the instance's class, reads also record the records returned."""

    def spec(cls: type, _name: str) -> tuple[Operation, Prepare]:
        def prepare(instance: Any, _args: tuple[Any, ...], _kwargs: dict[str, Any]) -> Call:
            store = type(instance).__name__ if instance is not None else cls.__name__
            return Call(store_operation(store, operation, reads))

        return store_operation(cls.__name__, operation, reads), prepare

    return spec


def methods(reads: dict[str, list[str]], others: dict[str, list[str]]) -> dict[str, MethodSpec]:
    """Method name -> spec, from operation -> method names; ``reads`` also record the records returned."""
    found: dict[str, MethodSpec] = {}
    for counted, table in ((True, reads), (False, others)):
        for operation, names_ in table.items():
            for name in names_:
                found[name] = method_spec(operation, reads=counted)
    return found
