"""The saved-run file (``otel-agentperf run --save FILE``): every OTLP request received, as it was received.

Format: the line ``otel-agentperf saved run 1``, then one record per request: a line ``<signal> <length>``
(``traces`` or ``metrics``, the payload's length in bytes), the payload (the request's
``ExportTraceServiceRequest`` or ``ExportMetricsServiceRequest`` in protobuf, uncompressed), and a newline.
Keeping the requests themselves, not a summary, lets ``report --file`` and ``traces --file`` read a saved
run exactly as ``run`` read it live, and any OTLP tool decode it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO

MAGIC = b"otel-agentperf saved run 1\n"
SIGNALS = ("traces", "metrics")
_HEAD_MAX = 32  # a record's head line: the signal, a space, a length and a newline


class SavedRunError(Exception):
    """A file that starts as a saved run but cannot be read as one; the message says where and why."""


def is_saved_run(data: bytes) -> bool:
    """True when ``data`` is a saved run (else it may be a Prometheus scrape)."""
    return data.startswith(MAGIC)


def start(stream: BinaryIO) -> None:
    """Write the header of a new saved run."""
    stream.write(MAGIC)
    stream.flush()


def append(stream: BinaryIO, signal: str, payload: bytes) -> None:
    """Write one request, flushed at once: a run stopped by force keeps everything received before."""
    stream.write(f"{signal} {len(payload)}\n".encode("ascii") + payload + b"\n")
    stream.flush()


def records(stream: BinaryIO) -> Iterator[tuple[str, bytes]]:
    """The (signal, payload) records of a saved run, in the order they were received, read one at a time
    (a saved run of any size is read in memory bounded by its largest request)."""
    if stream.read(len(MAGIC)) != MAGIC:
        raise SavedRunError("not a saved run (no 'otel-agentperf saved run 1' header)")
    offset = len(MAGIC)
    while line := stream.readline(_HEAD_MAX):
        head = line.rstrip(b"\n").decode("ascii", errors="replace").split(" ")
        if not line.endswith(b"\n") or len(head) != 2 or head[0] not in SIGNALS or not head[1].isdigit():
            raise SavedRunError(f"damaged record at byte {offset}")
        length = int(head[1])
        payload = stream.read(length + 1)
        if len(payload) != length + 1 or payload[-1:] != b"\n":
            raise SavedRunError(f"record at byte {offset} is cut short (was the run stopped while writing?)")
        yield head[0], payload[:-1]
        offset += len(line) + length + 1
