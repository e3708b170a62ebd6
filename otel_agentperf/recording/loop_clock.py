"""How long each running asyncio loop has been held in all: what the operations awaiting on it lost.

An awaiting operation (an LLM call, an async tool) cannot go on while something else holds its loop: a
synchronous culprit makes every task waiting beside it slow. The loop monitor adds each block it
measures to its loop's clock; an operation reads the clock as it starts and finishes, and the
difference, less what it held itself, is time it spent waiting for the loop (``Invocation._finish``).
The wrappers note here the frame each running operation holds, for the monitor to find on a stack. This
module imports nothing of the package, so the monitor and the telemetry handler can both use it.
"""

from __future__ import annotations

import sys
from time import perf_counter
from typing import Any


class LoopClock:
    """Seconds one loop was held past the threshold, by anything, since it started running.

    The monitor adds a block as it sees it, look by look, and its last part only when the loop runs the
    monitor's callback; until then a block that has in fact ended counts on to now. An operation reads
    the clock on the loop's own thread, where no block can be going on, so that reading includes the
    part still to be added: an operation that starts right after a block is not charged its end.
    """

    __slots__ = ("charged_until", "held", "in_block", "noted", "since")

    def __init__(self) -> None:
        self.held = 0.0
        self.in_block = False  # the monitor saw a block it has not seen end yet
        self.since = 0.0  # when its part not yet in ``held`` began
        self.charged_until = 0.0  # held time up to here is charged to what held the loop already
        # The loop thread's run-queue time (nanoseconds; 0: nothing read) as the monitor read it at its last
        # look, at most a look ago: where a synchronous call on the loop starts counting its thread's waits
        # for a CPU (``Invocation._end``).
        self.noted = 0

    def add(self, seconds: float) -> None:
        """A block the monitor did not see whole, measured by what held the loop (a synchronous call that
        just returned on the loop's thread): it ends now, so a block still open on the clock restarts here
        rather than counting the same instants twice, and the monitor's next charge starts here too (the
        call held the loop from its start to now, and has charged itself for it: charged again, the same
        instants would go to the code the monitor sees next)."""
        self.held += seconds
        now = perf_counter()
        if self.in_block:
            self.since = now
        if now > self.charged_until:
            self.charged_until = now

    def reading(self) -> float:
        """Held time up to now (``perf_counter``)."""
        return self.held + (perf_counter() - self.since if self.in_block else 0.0)


_clocks: dict[int, LoopClock] = {}
# The frame of each running wrapped call while a loop is watched, mapped to its operation: how the monitor
# finds the operations on a held loop's stack. Reading another thread's frame locals instead would build
# them on a frame that thread is running, which CPython does not make safe.
RUNNING_FRAMES: dict[Any, Any] = {}


# Set while the CPU sampler (``cpu_sampler.py``, opt-in) runs: it finds operations on stacks the same way.
sampling = False


def watching() -> bool:
    """Whether any loop is watched, or the CPU sampler runs: only then do wrapped calls note their frames."""
    return sampling or bool(_clocks)


def register(loop: Any) -> LoopClock:
    """The clock of ``loop``, which starts running on this thread."""
    clock = _clocks.get(id(loop))
    if clock is None:
        clock = _clocks[id(loop)] = LoopClock()
    return clock


def noted() -> int:
    """The run-queue time of this thread's loop as the monitor last read it (0: no watched loop runs here)."""
    clock = current()
    return 0 if clock is None else clock.noted


def unregister(loop: Any) -> None:
    _clocks.pop(id(loop), None)


def current() -> LoopClock | None:
    """The clock of the loop running on this thread, when the monitor watches one."""
    asyncio = sys.modules.get("asyncio")
    loop = asyncio._get_running_loop() if asyncio is not None else None
    return None if loop is None else _clocks.get(id(loop))
