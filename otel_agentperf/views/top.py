"""``otel-agentperf top``: a live terminal view of an app's operations, refreshed from a source of rows.

The source is an app's /metrics endpoint (``top --url``) or what ``otel-agentperf run --live`` receives
(anything with a ``label`` and cumulative ``rows()``). Each refresh reads the source and shows what
happened since the previous read: calls per second, error ratio, p50/p95/p99 estimated from the bucket
deltas, time spent per second, tokens per second and cost per minute. The first frame shows totals since
the app started. Keys: ``s`` next sort order, ``f`` next kind filter, ``q`` quit.
"""

from __future__ import annotations

import contextlib
import os
import select
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Protocol

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from otel_agentperf.conventions import names
from otel_agentperf.views import requests
from otel_agentperf.views.families import REQUEST, significant
from otel_agentperf.views.insights import (
    bottlenecks,
    growing_sentence,
    growth,
    growth_sentence,
    slow_imports,
    where_time_goes,
)
from otel_agentperf.views.rows import CounterReset, ReportError, Row, estimate_text, size_text, window
from otel_agentperf.views.scrape import fetch, parse

SORTS = ("time", "rate", "p95", "errors", "name")
_POLL_S = 0.2  # how often the view checks whether to stop, between refreshes
# The width when the output is no terminal (a pipe, a file) and COLUMNS does not say: rich would assume 80,
# which folds the table's 13 columns into unreadable slivers.
PIPED_WIDTH = 160


class Source(Protocol):
    """Where the view's rows come from: cumulative rows since the app started, read anew each refresh."""

    @property
    def label(self) -> str:
        """What the header names: a URL, a command."""
        ...

    def rows(self) -> list[Row]:
        """The rows now; raises :class:`ReportError` when the source cannot be read."""
        ...


@dataclass(frozen=True)
class Scrape:
    """An app's Prometheus endpoint, scraped at each refresh."""

    url: str

    @property
    def label(self) -> str:
        return self.url

    def rows(self) -> list[Row]:
        return parse(fetch(self.url))


FILTERS = ("all", *(kind for kind in names.KINDS))


@dataclass
class View:
    """What the screen shows and how: sort order, kind filter, and the last message."""

    label: str
    sort: str = "time"
    kind: str = "all"
    message: str = ""
    totals: list[Row] = field(default_factory=list)
    rows: list[Row] = field(default_factory=list)
    seconds: float | None = None  # length of the window the rows cover; None: totals since start
    trends: dict[tuple[str, str], list[tuple[float, float]]] = field(default_factory=dict)

    def refresh(self, totals: list[Row], now: float, previous_at: float | None) -> None:
        """Take new cumulative rows; the rows shown become the window since the previous ones."""
        if previous_at is None or not self.totals:
            self.rows, self.seconds = totals, None
        else:
            try:
                self.rows, self.seconds = window(self.totals, totals), now - previous_at
                self.message = ""
            except CounterReset as exc:
                self.rows, self.seconds = totals, None
                self.message = f"counters reset ({exc}); showing totals since the restart"
        self.totals = totals
        self.rows = significant(self.rows)
        if self.seconds is not None:
            for row in self.rows:
                p95, size = row.quantiles.get("p95"), row.mean_size
                if p95 is not None and size is not None:
                    self.trends.setdefault((row.kind, row.name), []).append((size, p95))
                    del self.trends[(row.kind, row.name)][:-10]

    def growing(self) -> list[str]:
        """Sentences for history operations whose latency climbs with the history's size."""
        return [growth_sentence(kind, name, points) for (kind, name), points in self.trends.items() if growth(points)]

    def visible(self) -> list[Row]:
        rows = [row for row in self.rows if self.kind in ("all", row.kind) and row.kind != REQUEST]
        keys = {
            "time": lambda row: (-row.own_seconds, -row.total_seconds),  # where the time goes: own time first
            "rate": lambda row: -row.calls,
            "p95": lambda row: -(row.quantiles.get("p95") or 0.0),
            "errors": lambda row: -(row.errors / row.calls if row.calls else 0.0),
            "name": lambda row: (row.kind, row.name),
        }
        return sorted(rows, key=keys[self.sort])

    def key(self, pressed: str) -> bool:
        """Apply a key; False when the user asked to quit."""
        if pressed == "q":
            return False
        if pressed == "s":
            self.sort = SORTS[(SORTS.index(self.sort) + 1) % len(SORTS)]
        elif pressed == "f":
            self.kind = FILTERS[(FILTERS.index(self.kind) + 1) % len(FILTERS)]
        return True


def _per(value: float, seconds: float | None, scale: float = 1.0, digits: int = 1) -> str:
    return "-" if seconds is None or seconds <= 0 else f"{value * scale / seconds:.{digits}f}"


def diagnosis_notes(row: Row, seconds: float | None) -> list[str]:
    """A row's #29 diagnoses in its notes, in milliseconds a second of the window (the report's figures): calls
    one after another (what running them together recovers), repeats, prompt growth, waits for a connection,
    and its busiest sampled code location."""
    found = []
    if row.recoverable_seconds:
        found.append(f"{_per(row.recoverable_seconds * 1000, seconds)} ms/s recoverable (calls one after another)")
    if row.repeated_calls:
        spent = f", {_per(row.repeated_tokens, seconds)} tokens/s" if row.repeated_tokens else ""
        found.append(f"{row.repeated_calls:g} repeats, {_per(row.repeated_seconds * 1000, seconds)} ms/s{spent}")
    if row.excess_seconds and growing_sentence(row) is not None:
        found.append(f"prompt growth {_per(row.excess_seconds * 1000, seconds)} ms/s")
    if row.connection_wait_calls:
        found.append(f"waited for a connection {_per(row.connection_wait_seconds * 1000, seconds)} ms/s")
    if row.hotspots:
        where, sampled = max(row.hotspots.items(), key=lambda item: item[1])
        found.append(f"CPU at {where} {100 * sampled / sum(row.hotspots.values()):.0f}%")
    return found


def render(view: View) -> Group:
    """The rich renderable for one frame."""
    table = Table(expand=False)
    for column in (
        "kind",
        "operation",
        "calls",
        "calls/s",
        "err %",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        "own/s",
        "time/s",
        "tokens/s",
        "$/min",
        "notes",
    ):
        table.add_column(column, justify="left" if column in ("kind", "operation", "notes") else "right")
    for row in view.visible():
        notes = []
        if row.redundant:
            notes.append(f"{row.redundant:g} redundant")
        if row.blocking:
            notes.append(f"{row.blocking:g} blocked loop")
        first_chunk = row.first_chunk_p50()
        if first_chunk is not None:
            notes.append(f"first chunk {estimate_text(first_chunk)} ms")
        if row.unpriced:
            notes.append(f"{row.unpriced:g} unpriced")
        if row.blocked_seconds:
            notes.append(f"loop held {_per(row.blocked_seconds * 1000, view.seconds)} ms/s")
        if row.waited_seconds:
            notes.append(f"waited {_per(row.waited_seconds * 1000, view.seconds)} ms/s for a held loop")
        if row.retries:
            notes.append(f"{_per(row.retries, view.seconds)} HTTP retries/s")
        notes += diagnosis_notes(row, view.seconds)
        memory = row.mean_memory
        if memory is not None:
            notes.append(f"memory {memory[0]} {size_text(memory[1])}/call")
        table.add_row(
            row.kind,
            row.name,
            f"{row.calls:g}",
            _per(row.calls, view.seconds),
            f"{100 * row.errors / row.calls:.0f}" if row.calls else "-",
            row.quantile_text("p50"),
            row.quantile_text("p95"),
            row.quantile_text("p99"),
            _per(row.own_seconds, view.seconds, digits=3) if row.self_known else "-",
            _per(row.total_seconds, view.seconds, digits=3),
            _per(row.tokens, view.seconds) if row.tokens else "",
            _per(row.cost_usd, view.seconds, scale=60, digits=4) if row.cost_usd else "",
            ", ".join(notes),
        )
    footer = [Text(f"sort: {view.sort}   kind: {view.kind}   keys: s sort, f filter, q quit")]
    if not view.rows:
        footer.append(Text("no otel-agentperf metrics yet (is the app instrumented?)", style="yellow"))
    # The sentences speak of what the table shows: the current window (the totals before a second scrape).
    summary = where_time_goes(view.rows)
    if summary:
        footer.append(Text(summary))
    if slow := slow_imports(view.totals):  # once per process, at start: since the app started, not the window
        footer.append(Text(slow))
    footer += [Text(f"- {sentence}") for sentence in view.growing() + bottlenecks(view.rows, limit=4)]
    if view.message:
        footer.append(Text(view.message, style="bold red"))
    lead = [Text(line) for line in requests.lines(view.rows)]  # the window's requests, like the table's rows
    return Group(header(view), *lead, table, *footer)


def header(view: View) -> Text:
    """The view's first line: what it shows and the window first, then the source's label, on one line cut
    with an ellipsis at the terminal's width. A table title would wrap at the table's width, so a long URL or
    ``run --live -- COMMAND`` split the line (and the window's "last 2.0s") over several lines."""
    span = "since start" if view.seconds is None else f"last {view.seconds:.1f}s"
    return Text(f"otel-agentperf top ({span})  {view.label}", no_wrap=True, overflow="ellipsis")


@contextlib.contextmanager
def _keys() -> Iterator[bool]:
    """Single-key input without echo while the view runs, when stdin is a terminal."""
    if not sys.stdin.isatty():
        yield False
        return
    import termios
    import tty

    fd = sys.stdin.fileno()
    saved = termios.tcgetattr(fd)
    try:
        tty.setcbreak(fd)
        yield True
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


def _wait_for_key(seconds: float, interactive: bool) -> str | None:
    if not interactive:
        time.sleep(seconds)
        return None
    ready, _, _ = select.select([sys.stdin], [], [], seconds)
    return os.read(sys.stdin.fileno(), 1).decode(errors="ignore") if ready else None


def console() -> Console:
    """The terminal's width on a terminal; COLUMNS (which rich reads) or :data:`PIPED_WIDTH` otherwise."""
    found = Console()
    if found.is_terminal or "COLUMNS" in os.environ:
        return found
    return Console(width=PIPED_WIDTH)


def run(source: Source, interval: float, frames: int | None = None, until: Callable[[], bool] | None = None) -> int:
    """Refresh until ``q``, ``frames`` frames or ``until()`` is true; exit 2 if the very first read fails."""
    view = View(source.label)
    try:
        view.refresh(source.rows(), time.monotonic(), None)
    except ReportError as exc:
        print(f"otel-agentperf: {exc}", file=sys.stderr)
        return 2
    previous_at = time.monotonic()
    shown = 1
    with _keys() as interactive, Live(render(view), console=console(), auto_refresh=False) as live:
        live.refresh()
        while frames is None or shown < frames:
            deadline = previous_at + interval
            while (remaining := deadline - time.monotonic()) > 0:
                if until is not None and until():
                    break
                pressed = _wait_for_key(min(remaining, _POLL_S), interactive)
                if pressed and not view.key(pressed):
                    return 0
                if pressed:
                    live.update(render(view), refresh=True)
            now = time.monotonic()
            try:
                view.refresh(source.rows(), now, previous_at)
            except ReportError as exc:
                view.message = str(exc)
            previous_at = now
            shown += 1
            live.update(render(view), refresh=True)
            if until is not None and until():
                break
    return 0
