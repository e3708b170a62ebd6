"""Keeps metric attribute values low-cardinality: past a cap, new values become ``_OTHER``.

Every metric attribute whose value comes from the application (agent, tool, workflow, segment, loader and
store names) or from the network (server address, model names) is bounded here, per attribute and per
telemetry state (so per meter), whichever way it reaches the recording primitive; spans keep the real value.
"""

from __future__ import annotations

from collections.abc import Mapping

from opentelemetry.util.types import AttributeValue

from otel_agentperf.conventions import names

NAME_LIMIT = 200  # distinct names per attribute: agents, tools, workflows, segments, loaders, stores
MODEL_LIMIT = 100  # distinct model names
SERVER_LIMIT = 100  # distinct server addresses
PROVIDER_LIMIT = 20  # distinct provider names


class BoundedValues:
    """The first ``limit`` distinct values pass through unchanged; later new ones map to ``_OTHER``."""

    __slots__ = ("_limit", "_seen")

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._seen: set[str] = set()

    def __call__(self, value: str) -> str:
        if value in self._seen:
            return value
        if not value or len(self._seen) >= self._limit:
            return names.OTHER
        self._seen.add(value)
        return value


# The bounded attributes and their caps.
LIMITS: Mapping[str, int] = {
    names.GEN_AI_AGENT_NAME: NAME_LIMIT,
    names.GEN_AI_TOOL_NAME: NAME_LIMIT,
    names.GEN_AI_WORKFLOW_NAME: NAME_LIMIT,
    names.SEGMENT_NAME: NAME_LIMIT,
    names.CONFIG_LOADER: NAME_LIMIT,
    names.HISTORY_STORE: NAME_LIMIT,
    names.CODE_FUNCTION: NAME_LIMIT,
    names.CODE_FILE_PATH: NAME_LIMIT,
    names.THREAD_NAME: NAME_LIMIT,  # a loop's thread
    names.GEN_AI_REQUEST_MODEL: MODEL_LIMIT,
    names.GEN_AI_RESPONSE_MODEL: MODEL_LIMIT,
    names.SERVER_ADDRESS: SERVER_LIMIT,
    names.GEN_AI_PROVIDER_NAME: PROVIDER_LIMIT,
}
CACHED_OPERATIONS = 10_000  # operations (and tool-in-agent pairs) whose bounded attributes are kept


class Bounds:
    """The values seen so far of every bounded attribute, for one telemetry state (one meter's series)."""

    __slots__ = ("_by_operation", "_values")

    def __init__(self) -> None:
        self._values = {key: BoundedValues(limit) for key, limit in LIMITS.items()}
        self._by_operation: dict[object, Mapping[str, AttributeValue]] = {}

    def metric_attributes(self, attributes: Mapping[str, AttributeValue]) -> Mapping[str, AttributeValue]:
        """``attributes`` with each bounded value past its attribute's cap replaced by ``_OTHER``."""
        changed: dict[str, AttributeValue] | None = None
        for key, value in attributes.items():
            bound = self._values.get(key)
            if bound is not None:
                kept = bound(value) if isinstance(value, str) else names.OTHER
                if kept != value:
                    changed = dict(attributes) if changed is None else changed
                    changed[key] = kept
        return attributes if changed is None else changed

    def of_operation(self, operation: object, attributes: Mapping[str, AttributeValue]) -> Mapping[str, AttributeValue]:
        """An operation's own metric attributes, bounded once: one dictionary look-up per call after that."""
        found = self._by_operation.get(operation)
        if found is None:
            found = self.metric_attributes(attributes)
            if len(self._by_operation) < CACHED_OPERATIONS:
                self._by_operation[operation] = found
        return found
