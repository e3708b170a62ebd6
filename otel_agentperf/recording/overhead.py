"""otel-agentperf's own cost, timed on a sample of operations.

Every :data:`EVERY`-th operation the package times its own work with ``thread_time_ns``, the CPU time of
the thread running it (what the package costs the machine, the same on a loaded machine as on an idle one,
where a wall clock would count the time the thread waited for a CPU as the package's): starting the
operation (``wrapping.wrappers.start``: the kind's preparation, the span, the context) and ending it
(``Invocation.end``: the result hook, the span's end and every point recorded), never the wrapped call
itself. Each sampled operation is one point of ``agentperf.overhead`` by operation kind; the report scales
each kind's mean by that kind's operations (``views/rows.py``, ``own_cost``). Left out: wrapt's dispatch
into the wrapper, and a deferred operation's (a stream's) end, which runs when its consumer finishes it.

Sampling is one step of a shared counter per operation (atomic under the GIL, so no lock) and four clock
reads per sampled one: docs/metrics.md ("otel-agentperf's own cost") has what that costs.
"""

from __future__ import annotations

import itertools

EVERY = 64  # a power of two: the test for a sampled operation is a mask
MASK = EVERY - 1
# next(tick) & MASK == 0: this operation is timed. Counted from 1: the process's first operation is never
# sampled, as its start and end do the package's one-time work (imports, instruments, caches), which scaled by
# the operations would make a short run's figure many times the truth.
tick = itertools.count(1)
