"""What the config-loader instrumentors share: one cached operation per loader name."""

from __future__ import annotations

import functools
from typing import Any

from otel_agentperf.conventions import names
from otel_agentperf.recording import operations
from otel_agentperf.recording.operations import Operation

from ..files import FileFacts, from_path, from_stream


@functools.lru_cache(maxsize=256)
def loader(name: str) -> Operation:
    """The config operation for a library loader such as ``yaml.safe_load``."""
    return operations.config(name)


def stream_facts(stream: Any) -> tuple[str, FileFacts | None]:
    """(source kind, facts) for a file object or other stream."""
    facts = from_stream(stream)
    return (names.SOURCE_FILE if facts is not None else names.SOURCE_STREAM), facts


def path_or_stream_facts(value: Any) -> tuple[str, FileFacts | None]:
    """(source kind, facts) for an argument that may be a path or an open stream."""
    facts = from_path(value)
    if facts is not None:
        return names.SOURCE_FILE, facts
    return stream_facts(value)
