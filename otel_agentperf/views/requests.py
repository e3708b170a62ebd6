"""Requests: how long each root operation took, and where that wall time went along its critical path.

A request is the outermost agent, workflow or segment (``recording/critical_path.py`` says how its wall
time is charged, one operation per instant). Its row (kind ``request``) holds its latency and the seconds
each operation was on its critical path. The time an operation on the path waited for an event loop other
code held is charged to the holders, shared out by the time each held a loop, as the bottleneck sentences
charge every wait: the loop monitor knows who held a loop, not whom each block delayed.
"""

from __future__ import annotations

from dataclasses import dataclass

from otel_agentperf.views.critical_path import WAITED
from otel_agentperf.views.families import REQUEST
from otel_agentperf.views.rows import Row, ms

SHOWN = 6  # parts named per request; the rest are summed as one


@dataclass(frozen=True)
class Part:
    """An operation on a request's critical path: seconds per request, and its share in percent (shares of
    a request add up to 100)."""

    kind: str
    name: str
    seconds: float
    share: int


@dataclass(frozen=True)
class Request:
    """One root operation's requests: their latency (the row) and where their time went, most first."""

    kind: str
    name: str
    row: Row
    parts: list[Part]  # past :data:`SHOWN`, the rest summed as one part with no kind


def shares(values: list[float]) -> list[int]:
    """Whole percentages of ``values``' sum that add up to exactly 100 (largest remainder), or all 0."""
    total = sum(values)
    if total <= 0:
        return [0 for _ in values]
    exact = [100 * value / total for value in values]
    whole = [int(value) for value in exact]
    by_remainder = sorted(range(len(values)), key=lambda i: exact[i] - whole[i], reverse=True)
    for i in by_remainder[: 100 - sum(whole)]:
        whole[i] += 1
    return whole


def charged(row: Row, holders: list[Row]) -> dict[tuple[str, str], float]:
    """The row's critical path with its waits for held loops charged to the holders, by time held."""
    path = dict(row.critical_path)
    waited = path.pop(WAITED, 0.0)
    held = sum(holder.blocked_seconds for holder in holders)
    if waited > 0 and held > 0:
        for holder in holders:
            key = (holder.kind, holder.name)
            path[key] = path.get(key, 0.0) + waited * holder.blocked_seconds / held
    elif waited > 0:
        path[WAITED] = waited
    return path


def requests(rows: list[Row], shown: int = SHOWN) -> list[Request]:
    """Every root's requests with their critical path, the most wall time first."""
    holders = [row for row in rows if row.kind != REQUEST and row.blocked_seconds > 0]
    found = []
    for row in rows:
        if row.kind != REQUEST or not row.calls:
            continue
        path = sorted(charged(row, holders).items(), key=lambda item: item[1], reverse=True)
        named, rest = path[:shown], path[shown:]
        items = [(kind, name, seconds) for (kind, name), seconds in named]
        if len(rest) == 1:
            (kind, name), seconds = rest[0]
            items.append((kind, name, seconds))
        elif rest:
            items.append(("", f"{len(rest)} other operations", sum(seconds for _, seconds in rest)))
        percent = shares([seconds for _, _, seconds in items])
        parts = [
            Part(kind, name, seconds / row.calls, share)
            for (kind, name, seconds), share in zip(items, percent, strict=True)
        ]
        kind, _, name = row.name.partition(" ")
        found.append(Request(kind, name, row, parts))
    return sorted(found, key=lambda request: request.row.total_seconds, reverse=True)


def part_text(part: Part) -> str:
    """``tool search_flights 412.0 ms (48%)``."""
    label = f"{part.kind} {part.name}" if part.kind else part.name
    return f"{label} {ms(part.seconds)} ms ({part.share}%)"


def lines(rows: list[Row]) -> list[str]:
    """The report's lead: per root, its requests' latency, then where a request's time goes."""
    found = requests(rows)
    if not found:
        return []
    said = ["Requests: latency, and where a request's wall time goes along its critical path (ms per request):"]
    for request in found:
        row = request.row
        said.append(
            f"- {request.kind} `{request.name}`: {row.calls:g} requests, p50 {row.quantile_text('p50')} ms, "
            f"p95 {row.quantile_text('p95')} ms, mean {ms(row.mean_seconds)} ms: "
            + ", ".join(part_text(part) for part in request.parts)
        )
    return said


def as_json(rows: list[Row]) -> list[dict[str, object]]:
    """The requests for ``report --format json``: seconds, not milliseconds."""
    return [
        {
            "kind": request.kind,
            "name": request.name,
            "count": round(request.row.calls),
            "p50_seconds": request.row.quantiles.get("p50"),
            "p95_seconds": request.row.quantiles.get("p95"),
            "mean_seconds": request.row.mean_seconds,
            "critical_path": [
                {"kind": part.kind or None, "name": part.name, "seconds": part.seconds, "share_percent": part.share}
                for part in request.parts
            ],
        }
        for request in requests(rows)
    ]
