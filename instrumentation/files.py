"""Facts about the file behind a config or history operation, learnt without reading it again.

Only ``os.fstat`` on an already open descriptor or ``os.stat`` on a path: nothing here opens, reads or
writes a file. A load is *redundant* when the same file, unchanged (same path, size and modification
time), was already loaded in this process.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from opentelemetry.util.types import AttributeValue

from otel_agentperf.conventions import names
from otel_agentperf.recording.operations import Operation
from otel_agentperf.runtime import forksafe, settings
from otel_agentperf.wrapping.wrappers import Call

_REMEMBERED_FILES = 4096


@dataclass(frozen=True)
class FileFacts:
    """What ``stat`` says about a file; ``path`` is None for streams that are not files."""

    path: str | None
    size: int | None
    mtime_ns: int | None


def from_stream(stream: Any) -> FileFacts | None:
    """Facts about an open file object, through its descriptor; None for in-memory streams."""
    name = getattr(stream, "name", None)
    if not isinstance(name, (str, os.PathLike)):
        return None
    try:
        stat = os.fstat(stream.fileno())
    except (AttributeError, OSError, ValueError):
        return FileFacts(os.fspath(name), None, None)
    return FileFacts(os.fspath(name), stat.st_size, stat.st_mtime_ns)


def from_path(path: Any) -> FileFacts | None:
    """Facts about a file named by a path; a missing file keeps its name (the load will fail itself)."""
    if not isinstance(path, (str, bytes, os.PathLike)):
        return None
    name = os.fsdecode(os.fspath(path))
    try:
        stat = os.stat(name)
    except OSError:
        return FileFacts(name, None, None)
    return FileFacts(name, stat.st_size, stat.st_mtime_ns)


class _LoadedFiles:
    """The most recent distinct (path, size, mtime) loads, bounded so a long-running app cannot grow it."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._lock = forksafe.lock()
        self._seen: OrderedDict[tuple[str, int, int], None] = OrderedDict()

    def already_loaded(self, facts: FileFacts) -> bool:
        if facts.path is None or facts.size is None or facts.mtime_ns is None:
            return False
        key = (os.path.abspath(facts.path), facts.size, facts.mtime_ns)
        with self._lock:
            if key in self._seen:
                self._seen.move_to_end(key)
                return True
            self._seen[key] = None
            if len(self._seen) > self._limit:
                self._seen.popitem(last=False)
            return False


_loaded = _LoadedFiles(_REMEMBERED_FILES)


def file_attributes(facts: FileFacts | None) -> dict[str, AttributeValue]:
    """Span attributes for a file: its base name and size; the full path only when opted in."""
    if facts is None or facts.path is None:
        return {}
    attributes: dict[str, AttributeValue] = {names.FILE_NAME: os.path.basename(facts.path)}
    if facts.size is not None:
        attributes[names.FILE_SIZE] = facts.size
    if settings.current().capture_file_paths:
        attributes[names.FILE_PATH] = os.path.abspath(facts.path)
    return attributes


def config_call(operation: Operation, config_format: str, source: str, facts: FileFacts | None) -> Call:
    """A config load with its format, source kind, file and redundant flag."""
    redundant = facts is not None and _loaded.already_loaded(facts)
    return Call(
        operation,
        file_attributes(facts),
        {
            names.CONFIG_FORMAT: config_format,
            names.CONFIG_SOURCE: source,
            names.CONFIG_REDUNDANT: "true" if redundant else "false",
        },
    )


def history_file_call(operation: Operation, facts: FileFacts | None) -> Call:
    """A history operation on a file: its size in bytes (its operation counts the records a read returns)."""
    return Call(operation, file_attributes(facts))
