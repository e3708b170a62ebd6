"""Operations for names a framework reports (agents, tools, graphs, workflows), bounded and built once.

Each kind keeps at most ``NAME_LIMIT`` distinct names per process (``_OTHER`` after that), so metric
labels stay few whatever the application names its agents; the operation for a name is built once.
"""

from __future__ import annotations

import functools

from otel_agentperf.conventions import names
from otel_agentperf.recording import operations
from otel_agentperf.recording.bounded import BoundedValues
from otel_agentperf.recording.operations import Operation

NAME_LIMIT = 200

_bounded = {kind: BoundedValues(NAME_LIMIT) for kind in names.KINDS}


@functools.lru_cache(maxsize=len(names.KINDS) * (NAME_LIMIT + 1))
def _operation(kind: str, name: str) -> Operation:
    return operations.for_kind(kind, name, name)


def named(kind: str, name: str) -> Operation:
    """The operation of ``kind`` for ``name``: ``agent`` and ``researcher`` give ``invoke_agent researcher``."""
    return _operation(kind, _bounded[kind](name))
