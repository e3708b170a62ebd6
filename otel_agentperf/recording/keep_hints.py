"""Why a request's trace is worth keeping, named on its span as it ends (tail sampling keeps on it).

A request is interesting when it failed somewhere inside, had a model call retried, held the event loop,
cost more than a threshold, or was slower than its own recent p95. The first four are flags each operation
hands to the one that called it as it finishes (:data:`ERROR`, :data:`RETRIED`, :data:`BLOCKING`, and its
model calls' cost), so the request knows them as it ends without looking at its tree. The p95 is each request
name's over its last :data:`WINDOW` requests: recent, so a slow hour does not make every request of the next
one "slow", in memory bounded by :data:`NAMES` names of :data:`WINDOW` numbers.

The hints ride on the span: with a ratio sampler (head sampling) an unsampled request has no span to carry
them, which changes no metric (the SDK records metrics whatever the sampler decides).
"""

from __future__ import annotations

import math
from collections import deque

from otel_agentperf.conventions import names
from otel_agentperf.runtime import forksafe

ERROR = 1
RETRIED = 2
BLOCKING = 4
WINDOW = 200  # a request name's recent durations
MINIMUM = 20  # durations needed before a p95 is trusted
NAMES = 1_000  # request names followed; further names are never judged slow


class RecentLatency:
    """Per request name, its recent durations: whether a request was slower than the p95 of those before it."""

    def __init__(self) -> None:
        self._lock = forksafe.lock()
        self._recent: dict[tuple[str, str], deque[float]] = {}

    def slower(self, key: tuple[str, str], seconds: float) -> bool:
        with self._lock:
            recent = self._recent.get(key)
            if recent is None:
                if len(self._recent) >= NAMES:
                    return False
                recent = self._recent[key] = deque(maxlen=WINDOW)
            judged = len(recent) >= MINIMUM and seconds > sorted(recent)[math.ceil(0.95 * len(recent)) - 1]
            recent.append(seconds)
        return judged


def reasons(flags: int, cost: float, cost_threshold: float, slow: bool) -> list[str]:
    """The request's reasons to be kept, in :data:`names.KEEP_REASONS` order (empty: nothing of note)."""
    found = [
        reason
        for reason, present in (
            (names.KEEP_SLOW, slow),
            (names.KEEP_ERROR, flags & ERROR),
            (names.KEEP_RETRIED, flags & RETRIED),
            (names.KEEP_BLOCKING, flags & BLOCKING),
            (names.KEEP_COSTLY, cost > cost_threshold),
        )
        if present
    ]
    return found


def attributes(found: list[str]) -> dict[str, str | bool]:
    """The span attributes for these reasons: the list, and one boolean per reason."""
    if not found:
        return {}
    return {names.KEEP: ",".join(found), **{f"{names.KEEP}.{reason}": True for reason in found}}
