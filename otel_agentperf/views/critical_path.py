"""The critical path of a received trace: the same decomposition the app records in-process, from spans.

Computed from the span tree (``spans.traces``), by the definition ``recording/critical_path.py``
computes as operations finish: back from an operation's end, the child that finished last (of those that
ended by then) is on the path for its whole interval, then the child that finished last before its start,
and so on; the instants between are the operation's own. A child that ended after its parent did was not
waited for. Only otel-agentperf's operations count, as only they do in-process: another instrumentation's
span (an HTTP client's) is part of the operation around it, its own children moved up to that operation.
The two computations are independent, so each checks the other.
"""

from __future__ import annotations

from collections.abc import Iterator

from otel_agentperf.conventions import names
from otel_agentperf.views.spans import SpanNode

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
