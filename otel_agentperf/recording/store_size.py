"""How big a history store is at each of its operations, learnt cheaply from the store object itself.

A lookup by id that scans a growing JSONL file returns one record: the size of what a read returned
says nothing about the store, so a user's store (a target or ``@history`` method) is measured from its
instance instead. Its attributes are looked at one level deep:

- builtin containers (``list``, ``dict``, ``deque``...): ``len``, constant time and no user code runs;
- files, named by a ``pathlib`` path, a string that looks like a path, or an open file object: their
  size from ``stat``, and for line-based formats (JSONL, logs, CSV) their lines, counted incrementally:
  only the bytes appended since the last count are read, so a growing append-only file costs what grew.

The largest is the store's size. Nothing is measured when nothing is found; nothing here writes.
"""

from __future__ import annotations

import collections
import io
import os
import stat as stat_module
from collections import OrderedDict
from typing import Any, NamedTuple

from opentelemetry.util.types import AttributeValue

from otel_agentperf.conventions import names
from otel_agentperf.runtime import forksafe

# Exact types, not subclasses: a subclass may define a ``__len__`` that does real work.
_CONTAINERS = frozenset(
    {list, tuple, dict, set, frozenset, collections.deque, collections.OrderedDict, collections.defaultdict}
)
_LINE_FORMATS = frozenset({".jsonl", ".ndjson", ".log", ".csv", ".tsv", ".txt"})
_ATTRIBUTES_LOOKED_AT = 64
_MAX_READ = 64 * 1024 * 1024  # more unread bytes than this at once: the lines stay unknown
_CHUNK = 1024 * 1024
_REMEMBERED_FILES = 256


class _Counted(NamedTuple):
    size: int
    newlines: int
    ends_with_newline: bool

    @property
    def lines(self) -> int:
        return self.newlines + (0 if self.ends_with_newline or self.size == 0 else 1)


class _LineCounts:
    """Lines per file (by device and inode, so a file replaced by a new one is counted afresh)."""

    def __init__(self) -> None:
        self._lock = forksafe.lock()
        self._counted: OrderedDict[tuple[int, int], _Counted] = OrderedDict()

    def lines(self, path: str, stat: os.stat_result) -> int | None:
        key = (stat.st_dev, stat.st_ino)
        with self._lock:
            before = self._counted.get(key)
        # Appends only add lines: read from where the last count stopped; a shrunk file is counted again.
        if before is not None and before.size == stat.st_size:
            return before.lines
        if before is None or before.size > stat.st_size:
            before = _Counted(0, 0, True)
        if stat.st_size - before.size > _MAX_READ:
            return None
        counted = _count_from(path, before, stat.st_size)
        if counted is None:
            return None
        with self._lock:
            self._counted[key] = counted
            self._counted.move_to_end(key)
            if len(self._counted) > _REMEMBERED_FILES:
                self._counted.popitem(last=False)
        return counted.lines


def _count_from(path: str, before: _Counted, size: int) -> _Counted | None:
    newlines, last = before.newlines, b"\n" if before.ends_with_newline else b"x"
    try:
        with open(path, "rb") as file:
            file.seek(before.size)
            left = size - before.size
            while left > 0:
                chunk = file.read(min(_CHUNK, left))
                if not chunk:
                    break
                newlines += chunk.count(b"\n")
                last = chunk[-1:]
                left -= len(chunk)
    except OSError:
        return None
    return _Counted(size - left, newlines, last == b"\n")


_line_counts = _LineCounts()


def _file_of(value: Any) -> tuple[str, os.stat_result] | None:
    """The regular file a store attribute names or holds open, with its ``stat``; None otherwise."""
    try:
        if isinstance(value, io.IOBase):
            name = getattr(value, "name", None)
            if not isinstance(name, (str, os.PathLike)):
                return None
            return os.fspath(name), os.fstat(value.fileno())
        if isinstance(value, os.PathLike):
            path = os.fspath(value)
        elif type(value) is str and len(value) < 4096 and (os.sep in value or os.path.splitext(value)[1]):
            path = value
        else:
            return None
        if not isinstance(path, str):
            return None
        found = os.stat(path)
    except (OSError, ValueError, TypeError):
        return None
    return (path, found) if stat_module.S_ISREG(found.st_mode) else None


def of(instance: Any) -> dict[str, AttributeValue]:
    """``agentperf.history.records`` and ``agentperf.file.size`` of the store ``instance``, where cheap."""
    try:
        values = list(vars(instance).values())[:_ATTRIBUTES_LOOKED_AT]
    except TypeError:  # no __dict__ (slots, builtins): nothing cheap to look at
        return {}
    records: int | None = None
    size: int | None = None
    for value in values:
        if type(value) in _CONTAINERS:
            records = max(records or 0, len(value))
            continue
        found = _file_of(value)
        if found is None:
            continue
        path, stat = found
        size = max(size or 0, stat.st_size)
        if os.path.splitext(path)[1].lower() in _LINE_FORMATS:
            lines = _line_counts.lines(path, stat)
            if lines is not None:
                records = max(records or 0, lines)
    measured: dict[str, AttributeValue] = {}
    if records is not None:
        measured[names.HISTORY_RECORDS] = records
    if size is not None:
        measured[names.FILE_SIZE] = size
    return measured
