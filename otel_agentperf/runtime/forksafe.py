"""Locks a forked child gets back unlocked.

A thread that holds one of the package's locks while another thread forks leaves that lock held forever in
the child, and the child's first recording waits on it. Every lock the package makes comes from here and
is re-initialised in the child after a fork, as the standard library does for its own (``_at_fork_reinit``).
The SDK's locks (its metric aggregations and exemplar reservoirs) are its own: see docs/architecture.md.
"""

from __future__ import annotations

import os
import threading
import weakref
from typing import Any

_locks: weakref.WeakSet[Any] = weakref.WeakSet()


def lock() -> threading.Lock:
    """A ``threading.Lock`` that is unlocked again in a forked child."""
    made = threading.Lock()
    _locks.add(made)
    return made


def rlock() -> threading.RLock:
    """A ``threading.RLock`` that is unlocked again in a forked child."""
    made = threading.RLock()
    _locks.add(made)
    return made


def _reinit_in_child() -> None:
    for each in list(_locks):
        reinit = getattr(each, "_at_fork_reinit", None)
        if reinit is not None:
            reinit()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reinit_in_child)
