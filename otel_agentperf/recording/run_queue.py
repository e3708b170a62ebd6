"""How long one thread waited for a CPU: the part of a held loop's wall time that nothing on it held it.

On a loaded machine a callback that runs a millisecond of work can take tens of milliseconds of wall time,
waiting in the kernel's run queue while other processes have the CPUs. The loop monitor measures blocks by
wall time; charged as they are, those waits would make a short callback (a stream chunk's handling, an
awaiting task's step) look like a blocker, and every task awaiting beside it look like it waited for one.
Linux counts each thread's run-queue time in ``/proc/self/task/<tid>/schedstat`` (its second field, in
nanoseconds); the monitor takes it out of every block it charges. The time the loop waited for a CPU is the
machine's, not the code's: what is charged is what the code held the loop for by itself (its work and its
synchronous waits), the same on a busy machine as on an idle one. Elsewhere, or when the file cannot be
read, nothing is taken out. Linux adds a wait to the count as it ends: a wait still going on at a read is
taken out at the next one, so the look during it charges its time (up to that wait, on a starved machine).
"""

from __future__ import annotations

import os


class RunQueue:
    """One thread's run-queue time since a mark, read with one ``pread`` of a file kept open."""

    __slots__ = ("_fd", "_mark", "_pid")

    def __init__(self, native_id: int) -> None:
        self._pid = os.getpid()  # a forked child's copy reads nothing: the file is its parent's thread's
        try:
            self._fd: int | None = os.open(f"/proc/self/task/{native_id}/schedstat", os.O_RDONLY)
        except OSError:  # not Linux, or no schedstat in this kernel: nothing to take out
            self._fd = None
        self._mark = self._read()

    def _read(self) -> int:
        if self._fd is None or os.getpid() != self._pid:
            return 0
        try:
            return int(os.pread(self._fd, 64, 0).split()[1])
        except (OSError, ValueError, IndexError):  # the thread has ended
            return 0

    def mark(self) -> None:
        """Count from now."""
        self._mark = self._read()

    def read(self) -> int:
        """The thread's run-queue time so far, in nanoseconds (0: nothing read); the mark stays."""
        return self._read()

    def since_mark(self) -> float:
        """Seconds the thread waited for a CPU since the mark, which moves to now."""
        reading = self._read()
        waited, self._mark = (reading - self._mark) / 1e9, reading
        return max(waited, 0.0)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def this_thread_ns() -> int:
    """The calling thread's run-queue time so far, in nanoseconds (0 where it cannot be read). Opens the file
    each time: for the rare call that held its loop past the threshold, never for every call."""
    try:
        with open("/proc/thread-self/schedstat", "rb") as stat:
            return int(stat.read().split()[1])
    except (OSError, ValueError, IndexError):
        return 0
