"""The critical path of a received trace: the same decomposition the app records in-process, from spans.

Computed from the span tree (``spans.traces``), by the definition ``recording/critical_path.py``
computes as operations finish: back from an operation's end, the child that finished last (of those that
ended by then) is on the path for its whole interval, then the child that finished last before its start,
and so on; the instants between are the operation's own. A child that ended after its parent did was not
waited for. Only otel-agentperf's operations count, as only they do in-process: another instrumentation's
span (an HTTP client's) is part of the operation around it, its own children moved up to that operation.
The two computations are independent, so each checks the other.

A process that made no request is one, as in-process: its operations' spans are the children of a request
of kind ``process`` from the first one's start to the last one's end, named by its ``service.name``. Spans
know a process only by its resource, so processes that share one are taken as one.
"""

from __future__ import annotations

from collections.abc import Iterator

from otel_agentperf.conventions import names
from otel_agentperf.views.spans import SpanNode, Trace

Key = tuple[str, str]
WAITED: Key = (names.KIND_WAITED, names.WAITED_NAME)


def operations(node: SpanNode, ours: bool = True) -> Iterator[SpanNode]:
    """The otel-agentperf operations directly under ``node``: its children, or for another
    instrumentation's child, the operations under that one (every child, with ``ours`` false)."""
    pending = list(reversed(node.children))
    while pending:
        child = pending.pop()
        if child.kind or not ours:
            yield child
        else:
            pending += reversed(child.children)


def own_on_path(root: SpanNode, ours: bool = True) -> dict[int, int]:
    """Nanoseconds of each operation's own instants on ``root``'s critical path, by ``id()`` of its node
    (``root`` included; an operation off the path has none). With ``ours`` false every span is an operation,
    whichever instrumentation made it: the path through a waterfall, which shows them all."""
    found: dict[int, int] = {}
    pending = [root]  # each node here is on the path for its whole interval
    while pending:
        node = pending.pop()
        cursor = node.end
        own = 0
        for child in sorted(operations(node, ours), key=lambda child: child.end, reverse=True):
            if child.end > cursor:
                continue  # it ended after the path had moved on: something else decided when to go on
            own += cursor - child.end
            pending.append(child)
            cursor = max(child.start, node.start)
        own += max(cursor - node.start, 0)
        found[id(node)] = own
    return found


def decompose(root: SpanNode) -> dict[Key, float]:
    """``root``'s wall time in seconds by the operation on its critical path, as (kind, row name); of an
    operation's own instants, the part it waited for a loop other code held is :data:`WAITED`'s."""
    own = own_on_path(root)
    seconds: dict[Key, float] = {}
    pending = [root]
    while pending:
        node = pending.pop()
        pending += operations(node)
        mine = own.get(id(node), 0)
        if not mine:
            continue
        waited = min(node.waited, mine)
        if waited:
            seconds[WAITED] = seconds.get(WAITED, 0.0) + waited / 1e9
        if mine > waited:
            key = (node.kind, node.label)
            seconds[key] = seconds.get(key, 0.0) + (mine - waited) / 1e9
    return seconds


def requests(roots: list[SpanNode]) -> Iterator[SpanNode]:
    """The requests among a trace's spans: the outermost agents, workflows and segments."""
    pending = list(roots)
    while pending:
        node = pending.pop()
        if node.kind in names.REQUEST_KINDS:
            yield node
        else:
            pending += node.children


def all_requests(traces: list[Trace]) -> Iterator[SpanNode]:
    """Every request: each trace's (:func:`requests`), and the process's own for each resource that sent
    no request (a node of kind ``process`` over the operations its traces hold)."""
    quiet: dict[tuple[tuple[str, str], ...], list[SpanNode]] = {}
    busy = set()
    for trace in traces:
        found = list(requests(trace.roots))
        if found:
            busy.add(trace.resource)
            yield from found
        else:
            quiet.setdefault(trace.resource, []).extend(trace.roots)
    for resource, roots in quiet.items():
        if resource in busy:
            continue
        holder = SpanNode(names.KIND_PROCESS, b"", b"", 0, 0, False, children=sorted(roots, key=lambda r: r.start))
        ran = list(operations(holder))
        if not ran:
            continue
        holder.start, holder.end = min(node.start for node in ran), max(node.end for node in ran)
        holder.kind, holder.label = names.KIND_PROCESS, dict(resource).get(names.SERVICE_NAME, names.UNKNOWN_SERVICE)
        holder.name = f"{holder.kind} {holder.label}"
        yield holder
