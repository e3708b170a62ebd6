"""Descriptions of the operations otel-agentperf records, one builder per kind.

An :class:`Operation` is built once, when a callable is decorated or a target applied, so the hot path
only reads precomputed span names and attribute dictionaries.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from opentelemetry.trace import SpanKind
from opentelemetry.util.types import AttributeValue

from otel_agentperf.conventions import names
from otel_agentperf.conventions.instruments import EMBEDDINGS

Attributes = Mapping[str, AttributeValue]

# The words in a function name that imply a history operation, checked in this order.
HISTORY_OPERATION_WORDS = (
    ("search", ("search", "find", "query", "lookup", "filter")),
    ("delete", ("delete", "remove", "clear", "purge", "trim")),
    ("append", ("append", "add", "push", "insert", "record", "log")),
    ("write", ("write", "save", "store", "put", "update", "set", "flush", "dump")),
    ("read", ("read", "get", "load", "list", "fetch", "iter", "messages", "recent", "latest", "last", "tail")),
)


class Operation:
    """What to record for one instrumented callable or segment: span name, kind and attributes."""

    __slots__ = (
        "histogram",
        "kind",
        "metric_attributes",
        "name",
        "path_key",
        "protocol",
        "protocol_attributes",
        "records_from_result",
        "span_attributes",
        "span_kind",
        "span_name",
    )

    def __init__(
        self,
        kind: str,
        name: str,
        span_name: str,
        metric_attributes: Attributes,
        span_attributes: Attributes | None = None,
        span_kind: SpanKind = SpanKind.INTERNAL,
        histogram: str | None = None,
        records_from_result: bool = False,
        protocol: str | None = None,
        protocol_attributes: Attributes | None = None,
    ) -> None:
        self.kind = kind
        # An operation a protocol's conventions also measure (MCP): its key in ``Instruments.protocol_durations``,
        # and that metric's own attributes, which are not the kind's (``mcp.method.name`` is not a GenAI one).
        self.protocol = protocol
        self.protocol_attributes: Attributes = MappingProxyType(dict(protocol_attributes or {}))
        # A history read: a list or tuple it returns is the history's records, recorded as its size.
        self.records_from_result = records_from_result
        self.histogram = histogram or kind  # its key in Instruments.durations
        self.name = name
        self.span_name = span_name
        self.span_kind = span_kind
        self.metric_attributes: Attributes = MappingProxyType(dict(metric_attributes))
        merged = {names.OPERATION_KIND: kind, **metric_attributes, **(span_attributes or {})}
        self.span_attributes: Attributes = MappingProxyType(merged)
        # The one thing learnt after preparing: how the critical path named the last call of this operation
        # (kind, row name), from what metric attributes and what values of its naming attributes; a call
        # with the same attributes (the same mapping: they are never changed in place, and the memo keeps
        # it alive, so its identity is not reused) or the same values reuses it.
        self.path_key: tuple[Attributes, tuple[AttributeValue | None, ...], tuple[str, str]] | None = None

    def __repr__(self) -> str:
        return f"Operation({self.kind!r}, {self.span_name!r})"


# Kinds whose operation is named by one attribute: (GenAI operation name, the attribute naming it).
_BY_NAME = {
    names.KIND_AGENT: (names.OP_INVOKE_AGENT, names.GEN_AI_AGENT_NAME),
    names.KIND_TOOL: (names.OP_EXECUTE_TOOL, names.GEN_AI_TOOL_NAME),
    names.KIND_CONFIG: (names.OP_LOAD_CONFIG, names.CONFIG_LOADER),
}


def span_name(*parts: str | None, fallback: str) -> str:
    """A span name from its parts (``{operation} {target}``), leaving out what is not known.

    ``_OTHER`` stands in metric values for what is unknown or over the bound; in a span name it would read as
    a name (``history__OTHER TripHistory.trips_of``), so an unknown part is left out and the name reads
    ``history TripHistory.trips_of``. ``fallback`` when no part is left.
    """
    return " ".join(part for part in parts if part and part != names.OTHER) or fallback


def _named(kind: str, name: str) -> Operation:
    operation, attribute = _BY_NAME[kind]
    return Operation(
        kind,
        name,
        span_name(operation, name, fallback=operation),
        {names.GEN_AI_OPERATION_NAME: operation, attribute: name},
    )


def agent(name: str) -> Operation:
    return _named(names.KIND_AGENT, name)


def create_agent(name: str, provider: str | None = None) -> Operation:
    """Agent construction: a CLIENT span, the conventions' kind for it; ``provider`` on the span only.

    The provider is not an attribute of ``agentperf.create_agent.duration`` (nor known but to the app).
    """
    attributes: dict[str, AttributeValue] = {
        names.GEN_AI_OPERATION_NAME: names.OP_CREATE_AGENT,
        names.GEN_AI_AGENT_NAME: name,
    }
    span_attributes = {names.GEN_AI_PROVIDER_NAME: provider} if provider else None
    return Operation(
        names.KIND_CREATE_AGENT,
        name,
        span_name(names.OP_CREATE_AGENT, name, fallback=names.OP_CREATE_AGENT),
        attributes,
        span_attributes,
        span_kind=SpanKind.CLIENT,
    )


def tool(name: str) -> Operation:
    return _named(names.KIND_TOOL, name)


def workflow(name: str) -> Operation:
    """A workflow: ``gen_ai.invoke_workflow.duration`` takes only its name (and ``error.type``), so the operation
    name is the span's alone."""
    return Operation(
        names.KIND_WORKFLOW,
        name,
        span_name(names.OP_INVOKE_WORKFLOW, name, fallback=names.OP_INVOKE_WORKFLOW),
        {names.GEN_AI_WORKFLOW_NAME: name},
        {names.GEN_AI_OPERATION_NAME: names.OP_INVOKE_WORKFLOW},
    )


def config(loader: str) -> Operation:
    return _named(names.KIND_CONFIG, loader)


def llm(name: str, model: str | None = None, provider: str | None = None, operation: str = names.OP_CHAT) -> Operation:
    """An LLM call; ``name`` is the wrapping function, on the span only (not an attribute of the metrics)."""
    attributes: dict[str, AttributeValue] = {names.GEN_AI_OPERATION_NAME: operation}
    if provider:
        attributes[names.GEN_AI_PROVIDER_NAME] = provider
    if model:
        attributes[names.GEN_AI_REQUEST_MODEL] = model
    return Operation(
        names.KIND_LLM,
        name,
        span_name(operation, model, fallback=name),
        attributes,
        {names.CODE_FUNCTION: name},
        span_kind=SpanKind.CLIENT,
        histogram=EMBEDDINGS if operation == names.OP_EMBEDDINGS else None,
    )


def history_operation_for(function_name: str) -> str:
    """Guess read/append/write/search/delete from a function name (``get_execution_by_id`` is a read)."""
    words = function_name.lower().replace("-", "_").split("_")
    for operation, markers in HISTORY_OPERATION_WORDS:
        if any(word.startswith(marker) for word in words for marker in markers):
            return operation
    return names.OTHER


def history(store: str, operation: str, records_from_result: bool = True) -> Operation:
    """A history-store operation; ``records_from_result``: a list or tuple it returns counts as the records.

    An operation that is none of ``names.HISTORY_OPERATIONS`` is ``_OTHER`` on the metrics (their values
    stay bounded) and plain ``history`` in the operation and span name (``history TripHistory.trips_of``).
    """
    known = operation in names.HISTORY_OPERATIONS
    op_name = f"{names.OP_HISTORY_PREFIX}{operation}" if known else names.OP_HISTORY
    return Operation(
        names.KIND_HISTORY,
        store,
        span_name(op_name, store, fallback=op_name),
        {
            names.GEN_AI_OPERATION_NAME: op_name,
            names.HISTORY_STORE: store,
            names.HISTORY_OPERATION: operation if known else names.OTHER,
        },
        records_from_result=records_from_result,
    )


def segment(name: str) -> Operation:
    return Operation(names.KIND_SEGMENT, name, span_name(name, fallback=names.KIND_SEGMENT), {names.SEGMENT_NAME: name})


def for_kind(kind: str, name: str, function_name: str, history_operation: str | None = None) -> Operation:
    """The operation for a target or bare decorator: ``name`` is the agent/tool/store/loader name.

    A history operation is ``history_operation`` when given (a target that states it), else guessed from
    ``function_name``.
    """
    if kind == names.KIND_CREATE_AGENT:
        return create_agent(name)
    if kind == names.KIND_WORKFLOW:
        return workflow(name)
    if kind in _BY_NAME:
        return _named(kind, name)
    if kind == names.KIND_LLM:
        return llm(name)
    if kind == names.KIND_HISTORY:
        return history(name, history_operation or history_operation_for(function_name))
    if kind == names.KIND_SEGMENT:
        return segment(name)
    raise ValueError(f"unknown operation kind {kind!r}; use one of {', '.join(names.KINDS)}")


# Operations kept for names seen so far, so a framework's or a segment's name builds its operation once.
# Only memory is bounded here: metric values are bounded per meter by ``bounded.Bounds``, spans keep the name.
_CACHED_NAMES = 10_000
_cache: dict[tuple[str, str], Operation] = {}


def named(kind: str, name: str) -> Operation:
    """The operation of ``kind`` for ``name`` (``agent``, ``researcher``: ``invoke_agent researcher``), built once."""
    key = (kind, name)
    found = _cache.get(key)
    if found is None:
        found = for_kind(kind, name, name)
        if len(_cache) < _CACHED_NAMES:
            _cache[key] = found
    return found
