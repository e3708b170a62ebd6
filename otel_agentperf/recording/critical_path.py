"""Where a request's wall time went: each instant charged to the one operation on its critical path.

The critical path of an operation runs back from its end: the child that finished last (of those that
ended by then) decides when the operation could go on, so that child is on the path for its whole
interval, and before its start the path continues through the child that finished last before that start;
the instants no such child covers are the operation's own. Concurrent children therefore never add up,
and the decomposition sums to the operation's duration exactly. A request (the outermost agent, workflow
or segment) records its decomposition as it ends. A process that makes no request is one
(:class:`ProcessPath`): its operations outside any request hand their paths on to it as to a caller.

It is computed as operations finish, in memory bounded by the operations in flight, not by the size of
the tree. A parent keeps one ``Node``: the decomposition of its time from its start to the end of
the child that has finished last. A child notes that node as it starts (every child that finished before
it started had ended by then, and the last of them ended last); as it finishes it extends the node it
noted by the gap until its own start and its own decomposition, and that becomes the parent's node when it
ends later than the current one. Nodes nobody can extend any more are left to the garbage collector.

The part of an operation's own time on the path that it spent waiting for an event loop held by other
code is charged to :data:`WAITED` (the report shares it among the holders, as it does every wait).
"""

from __future__ import annotations

import os
import weakref

from otel_agentperf.conventions import names

# An operation as the critical path names it: (kind, row name), as the report's rows are named.
Key = tuple[str, str]
WAITED: Key = (names.KIND_WAITED, names.WAITED_NAME)
# The key of the parent's own instants in a node, named once the parent finishes (a model call learns
# its model late).
_OWN: Key = ("", "")
TOP = 8  # contributors kept on the request's span


# An operation's critical path from its start to an end (a ``perf_counter`` time): (end, seconds by key).
# A plain tuple: one is made per finishing operation, and a named tuple's constructor is a Python call.
Node = tuple[float, dict[Key, float]]


def close(last: Node | None, start: float, end: float, own: Key, waited: float) -> dict[Key, float]:
    """The decomposition of an operation from ``start`` to ``end``: its path up to the child that finished
    last (``last``), its own instants after that, all its own instants named ``own``; of those, up to
    ``waited`` seconds (its own wait for a loop other code held) are :data:`WAITED`'s."""
    seconds: dict[Key, float] = {}
    _add(seconds, last, start, end, own, waited)
    return seconds


def hand_on(
    before: Node | None, parent_start: float, last: Node | None, start: float, end: float, own: Key, waited: float
) -> Node:
    """The parent's path up to the end of a child that ran from ``start`` to ``end``: the parent's path up to
    the child's start (``before``, the node the parent had then), the parent's own instants until then, and
    the child's decomposition (as :func:`close` makes it, added in place: one dictionary per finish)."""
    if before is None:
        seconds = {}
        gap = start - parent_start
    else:
        seconds = before[1].copy()
        gap = start - before[0]
    if gap > 0:
        seconds[_OWN] = seconds.get(_OWN, 0.0) + gap
    if last is None and not waited:  # a call with no callees, which did not wait: all of it its own
        seconds[own] = seconds.get(own, 0.0) + (end - start)
    else:
        _add(seconds, last, start, end, own, waited)
    return end, seconds


def _add(seconds: dict[Key, float], last: Node | None, start: float, end: float, own: Key, waited: float) -> None:
    """Add an operation's decomposition (:func:`close`) to ``seconds``."""
    if last is None:
        mine = max(end - start, 0.0)
    else:
        mine = max(end - last[0], 0.0)
        for key, value in last[1].items():
            if key == _OWN:
                mine += value
            else:
                seconds[key] = seconds.get(key, 0.0) + value
    moved = min(waited, mine)
    if moved > 0:
        seconds[WAITED] = seconds.get(WAITED, 0.0) + moved
    if mine > moved:
        seconds[own] = seconds.get(own, 0.0) + mine - moved


def top(seconds: dict[Key, float], limit: int = TOP) -> list[tuple[str, float]]:
    """The largest contributors, ``("tool search_flights", 1.25)``, most first (for the request's span)."""
    ranked = sorted(seconds.items(), key=lambda item: item[1], reverse=True)[:limit]
    return [(f"{kind} {name}", value) for (kind, name), value in ranked]


class ProcessPath:
    """The process as the caller of every operation outside a request: the request of a process that makes
    none (a script calling models and tools directly), from its first such operation's start to the end of
    the one that finished last. Recorded at exit only when no agent, workflow or segment request ended in
    the process; a forked child starts again (its parent's path is not its own).

    The attribute names are an operation's (``Invocation``), so an operation hands its path on to this as
    to the operation that called it."""

    __slots__ = ("__weakref__", "_path", "_started", "had_request")

    def __init__(self) -> None:
        self._path: Node | None = None
        self._started: float | None = None
        self.had_request = False
        _LIVE.add(self)

    def began(self, at: float) -> None:
        """An operation outside any request started at ``at`` (``perf_counter``)."""
        if self._started is None:
            self._started = at

    def decomposition(self, name: str) -> tuple[float, dict[Key, float]] | None:
        """The process's wall time as a request named ``name`` and its critical path; None when it made a
        request of its own or ran no operation."""
        if self.had_request or self._path is None or self._started is None:
            return None
        end = self._path[0]
        return end - self._started, close(self._path, self._started, end, (names.KIND_PROCESS, name), 0.0)

    def _forked(self) -> None:
        self._path, self._started, self.had_request = None, None, False


_LIVE: weakref.WeakSet[ProcessPath] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for process in list(_LIVE):
        process._forked()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
