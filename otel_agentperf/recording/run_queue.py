"""How long one thread waited for a CPU: the part of a held loop's wall time that nothing on it held it.

On a loaded machine a callback that runs a millisecond of work can take tens of milliseconds of wall time,
waiting in the kernel's run queue while other processes have the CPUs. The loop monitor judges blocks by the
time the loop's thread had a CPU (or slept holding it): judged by wall time, those waits would make a short
callback (a stream chunk's handling, an awaiting task's step) look like a blocker, and every task awaiting
beside it look like it waited for one. Linux counts each thread's run-queue time in
``/proc/self/task/<tid>/schedstat`` (its second field, in nanoseconds; the first is its time on a CPU).
Linux adds a wait to the count as it ends: a wait still going on at a read shows as a thread that is
runnable (``R`` in its ``stat``) yet has not run since the last read (:meth:`RunQueue.stalled`). Elsewhere,
or when the files cannot be read, nothing is taken out.
"""

from __future__ import annotations

import os


class RunQueue:
    """One thread's run-queue time since a mark, read with one ``pread`` of a file kept open."""

    __slots__ = ("_fd", "_mark", "_pid", "_ran", "_stat")

    def __init__(self, native_id: int) -> None:
        self._pid = os.getpid()  # a forked child's copy reads nothing: the file is its parent's thread's
        self._stat = f"/proc/self/task/{native_id}/stat"
        try:
            self._fd: int | None = os.open(f"/proc/self/task/{native_id}/schedstat", os.O_RDONLY)
        except OSError:  # not Linux, or no schedstat in this kernel: nothing to take out
            self._fd = None
        self._ran = 0  # the thread's time on a CPU at the last read (nanoseconds)
        self._mark = self.read()

    def read(self) -> int:
        """The thread's run-queue time so far, in nanoseconds (0: nothing read); the mark stays."""
        if self._fd is None or os.getpid() != self._pid:
            return 0
        try:
            fields = os.pread(self._fd, 64, 0).split()
            self._ran = int(fields[0])
            return int(fields[1])
        except (OSError, ValueError, IndexError):  # the thread has ended
            return 0

    def stalled(self, ran_before: int) -> bool:
        """Whether the thread waits for a CPU now: it has not run since a read that found ``ran_before`` on
        a CPU (the count moves at least every scheduler tick while it runs) and is runnable. One more read of
        a file, for the rare callback that seems to hold a loop, never for every look."""
        if self._fd is None or self._ran != ran_before or os.getpid() != self._pid:
            return False
        try:
            with open(self._stat, "rb") as stat:
                return stat.read().rsplit(b")", 1)[1].split()[0] == b"R"  # the name may hold ") "
        except (OSError, IndexError):
            return False

    @property
    def ran(self) -> int:
        """The thread's time on a CPU at the last read (nanoseconds)."""
        return self._ran

    def since_mark(self) -> float:
        """Seconds the thread waited for a CPU since the mark, which moves to now."""
        reading = self.read()
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
