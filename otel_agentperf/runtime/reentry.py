"""While otel-agentperf's own code runs on a thread, calls into wrapped functions there pass through unrecorded.

A target may wrap a function the package itself calls while it builds its telemetry state or records an
operation (``builtins:len=tool``, ``re:compile=tool``): recording that call would re-enter the package, and
building the state re-enters a lock that is held. :func:`start` in ``wrappers`` records nothing while
:data:`inside` is set; the recording primitive and set-up set it around their work.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager


class _Inside(threading.local):
    on = False


inside = _Inside()


@contextmanager
def ours() -> Iterator[None]:
    """Mark the block as the package's own work on this thread (nestable)."""
    was = inside.on
    inside.on = True
    try:
        yield
    finally:
        inside.on = was
