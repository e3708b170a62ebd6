"""The report as text: a fixed-width table for the terminal, Markdown for CI logs and issues, or JSON."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, fields
from typing import Any

from otel_agentperf.views import requests
from otel_agentperf.views.families import CODE, IMPORT, LOOP, NOT_OPERATIONS, OVERHEAD, REQUEST, STARTUP, own_cost
from otel_agentperf.views.insights import (
    cold_start,
    hotspots,
    imports,
    own_cost_line,
    slow_imports,
    time_by_kind,
    where_time_goes,
)
from otel_agentperf.views.rows import QUANTILES, Row, cost_text, estimate_text, ms, ranked, size_text, spent

_FIELDS = tuple(f.name for f in fields(Row))


def notes(row: Row) -> str:
    """What a row says beyond timings: redundant loads, event-loop blocking, tokens by direction and cost."""
    said = []
    if row.redundant:
        said.append(f"{row.redundant:g} redundant ({ms(row.redundant_seconds)} ms)")
    first_chunk = row.first_chunk_p50()
    if first_chunk is not None:
        said.append(f"first chunk p50 {estimate_text(first_chunk)} ms")
    if row.blocking:
        said.append(f"{row.blocking:g} blocked the event loop")
    if row.blocked_seconds:
        said.append(f"held the event loop {ms(row.blocked_seconds)} ms")
    if row.waited_seconds:
        said.append(f"waited {ms(row.waited_seconds)} ms for a held loop")
    if row.queued_seconds:
        said.append(f"queued {ms(row.queued_seconds)} ms on a saturated loop")
    if row.retries:
        said.append(f"{row.retries:g} HTTP retries ({ms(row.retry_seconds)} ms)")
    if row.recoverable_seconds:
        said.append(f"{ms(row.recoverable_seconds)} ms recoverable by overlapping calls")
    if row.repeated_calls:
        said.append(f"{row.repeated_calls:g} repeated calls ({ms(row.repeated_seconds)} ms)")
    if row.later_turns:
        said.append(f"later turns +{ms(row.excess_seconds)} ms")
    if row.connection_wait_calls:
        said.append(f"waited {ms(row.connection_wait_seconds)} ms for a connection")
    memory = row.mean_memory
    if memory is not None:
        what, size = memory
        said.append(f"memory {what} {size_text(size)} per call (process-wide)")
    if row.tokens:
        said.append(f"{row.input_tokens:g} in + {row.output_tokens:g} out tokens")
    if row.cost_usd or row.unpriced:
        said.append(cost_text(row))
    return ", ".join(said)


HEADER = (
    "kind",
    "operation",
    "calls",
    "errors",
    "own ms",
    "self ms",
    "total ms",
    "mean ms",
    "p50 ms",
    "p95 ms",
    "p99 ms",
    "notes",
)


def cells(row: Row) -> tuple[str, ...]:
    return (
        row.kind,
        row.name,
        f"{row.calls:g}",
        f"{row.errors:g}",
        ms(row.own_seconds) if row.self_known else "-",
        ms(row.self_seconds) if row.self_known else "-",
        ms(row.total_seconds),
        ms(row.mean_seconds),
        *(row.quantile_text(f"p{round(q * 100)}") for q in QUANTILES),
        notes(row),
    )


def order(rows: list[Row]) -> str:
    """What the table is sorted by, said above it: a column it shows."""
    if any(row.self_known for row in rows):
        return (
            "Operations by own ms: self time (its duration less the operations it called) less the time it "
            "waited for an event loop other code held"
        )
    return "Operations by total ms (the app did not export self time)"


def operations(rows: list[Row]) -> list[Row]:
    """The rows of the operation table, ranked: operations only. Code outside operations has no calls or
    duration of its own, only the time it held a loop, and the cold-start phases are one figure per process:
    each has its own lines (:func:`code_lines`, ``insights.cold_start``), as requests do (``requests.lines``)."""
    return ranked([row for row in rows if row.kind not in NOT_OPERATIONS])


def _code(rows: list[Row]) -> list[Row]:
    """Code outside any operation that held an event loop, the most first (the significant ones: see
    ``families.significant``)."""
    found = [row for row in rows if row.kind == CODE and row.blocked_seconds]
    return sorted(found, key=lambda row: -row.blocked_seconds)


def code_lines(rows: list[Row]) -> list[str]:
    """The lines naming :func:`_code`'s rows, under the table."""
    code = _code(rows)
    if not code:
        return []
    return [
        "Code outside operations that held the event loop:",
        *(
            f"- {row.name} held it {ms(row.blocked_seconds)} ms"
            + (f" (ran on it {ms(row.consumed_seconds)} ms in all)" if row.consumed_seconds else "")
            for row in code
        ),
    ]


def _loops(rows: list[Row]) -> list[Row]:
    return sorted((row for row in rows if row.kind == LOOP and row.loop_seconds), key=lambda row: row.name)


def loop_lines(rows: list[Row]) -> list[str]:
    """Each event loop's busy share of its running time and its saturated windows (the loop monitor's looks)."""
    loops = _loops(rows)
    if not loops:
        return []
    lines = ["Event loops (by thread; saturated: 1 s windows busy 90% or more, mostly short callbacks):"]
    for row in loops:
        line = f"- {row.name}: busy {100 * row.busy_seconds / row.loop_seconds:.0f}% of {ms(row.loop_seconds)} ms"
        if row.saturated_seconds:
            line += (
                f", saturated {ms(row.saturated_seconds)} ms, awaiting operations queued "
                f"{ms(row.saturated_queued_seconds)} ms in it"
            )
        lines.append(line)
    return lines


def render_table(rows: list[Row], bottlenecks: list[str]) -> str:
    """A fixed-width table for the terminal: names and notes left-aligned, numbers right-aligned."""
    lines = [HEADER, *(cells(row) for row in operations(rows))]
    widths = [max(len(line[i]) for line in lines) for i in range(len(HEADER))]
    rendered = []
    for line in lines:
        padded = [
            cell.ljust(width) if i < 2 or i == len(widths) - 1 else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(line, widths, strict=True))
        ]
        rendered.append("  ".join(padded).rstrip())
    rendered.insert(0, order(rows))
    if lead := requests.lines(rows):
        rendered[:0] = [*lead, ""]
    summary = [line for line in (where_time_goes(rows), cold_start(rows)) if line]
    if summary:
        rendered += ["", *summary]
    if code := code_lines(rows):
        rendered += ["", *code]
    if loops := loop_lines(rows):
        rendered += ["", *loops]
    if imported := imports(rows):
        rendered += ["", *imported]
    if slow := slow_imports(rows):
        rendered.append(slow)
    if hot := hotspots(rows):
        rendered += ["", *hot]
    if bottlenecks:
        rendered += ["", "Bottlenecks:", *(f"- {sentence}" for sentence in bottlenecks)]
    if own := own_cost_line(rows):
        rendered += ["", own]
    return "\n".join(rendered)


def render_markdown(rows: list[Row], bottlenecks: list[str]) -> str:
    """A GitHub-flavoured Markdown table, for CI logs and issues."""
    lead = requests.lines(rows)
    lines = [
        *lead,
        *([""] if lead else []),
        order(rows),
        "",
        "| " + " | ".join(HEADER) + " |",
        "|" + "---|" * len(HEADER),
    ]
    lines += ["| " + " | ".join(cells(row)) + " |" for row in operations(rows)]
    summary = [line for line in (where_time_goes(rows), cold_start(rows)) if line]
    if summary:
        lines += ["", *summary]
    if code := code_lines(rows):
        lines += ["", *code]
    if loops := loop_lines(rows):
        lines += ["", *loops]
    if imported := imports(rows):
        lines += ["", "```", *imported, "```"]
    if slow := slow_imports(rows):
        lines += ["", slow]
    if hot := hotspots(rows):
        lines += ["", "```", *hot, "```"]
    if bottlenecks:
        lines += ["", "**Bottlenecks**", "", *(f"- {sentence}" for sentence in bottlenecks)]
    if own := own_cost_line(rows):
        lines += ["", own]
    return "\n".join(lines)


# Row fields that count things: whole numbers in JSON.
_COUNTS = (
    "calls",
    "errors",
    "redundant",
    "blocking",
    "input_tokens",
    "output_tokens",
    "first_chunk_count",
    "unpriced",
    "retries",
    "retried_calls",
    "size_records",
    "size_observations",
    "memory_peak_calls",
    "memory_rss_calls",
    "sequential_calls",
    "repeated_calls",
    "repeated_tokens",
    "later_turns",
    "turn_distance",
    "first_turn_tokens",
    "excess_tokens",
    "connection_wait_calls",
    "connection_wait_limits",
)
_COST_DIGITS = 9  # dollars to a billionth: summed float prices print as 7.500000000000001e-05 otherwise


def as_dict(rows: list[Row], bottlenecks: list[str]) -> dict[str, Any]:
    """Machine-readable requests and rows (seconds, not milliseconds), the code outside operations that held a
    loop, what the run's model calls spent (tokens and cost), the cold-start phases and the bottleneck
    sentences: what :func:`render_json` writes and the HTML report embeds, so both show the same figures."""
    found = []
    for row in operations(rows):
        item = asdict(row)
        item.pop("buckets")
        item.pop("first_chunk_buckets")
        first_chunk = row.first_chunk_p50()
        item["first_chunk_p50_seconds"] = None if first_chunk is None else first_chunk.value
        item["bounds"] = {key: [low, None if math.isinf(high) else high] for key, (low, high) in row.bounds.items()}
        item["mean_seconds"] = row.mean_seconds
        item["own_seconds"] = row.own_seconds
        item["tokens"] = round(row.tokens)
        # Unknown, not free: a row with unpriced calls has no total cost (``cost_usd`` of its priced calls
        # would understate it); ``priced_cost_usd`` keeps what is known.
        item["priced_cost_usd"] = round(row.cost_usd, _COST_DIGITS)
        item["cost_usd"] = item["priced_cost_usd"] if row.cost_known else None
        for count in _COUNTS:  # counted, not measured: whole numbers (the metrics carry them as floats)
            item[count] = round(item[count])
        item["retry_reasons"] = {reason: round(times) for reason, times in row.retry_reasons.items()}
        found.append(item)
    code = [
        {"name": row.name, "blocked_seconds": row.blocked_seconds, "consumed_seconds": row.consumed_seconds}
        for row in _code(rows)
    ]
    loops = [
        {
            "name": row.name,
            "running_seconds": row.loop_seconds,
            "busy_seconds": row.busy_seconds,
            "saturated_seconds": row.saturated_seconds,
            "saturated_queued_seconds": row.saturated_queued_seconds,
        }
        for row in _loops(rows)
    ]
    startup = {row.name: row.mean_seconds for row in rows if row.kind == STARTUP and row.calls}
    imported = {row.name: row.mean_seconds for row in rows if row.kind == IMPORT and row.calls}
    used = spent(rows)
    report = {
        "requests": requests.as_json(rows),
        "operations": found,
        "code_outside_operations": code,
        "spent": {  # the whole run's model calls: tokens, and a cost that is None while a call has no price
            "input_tokens": round(used.input_tokens),
            "output_tokens": round(used.output_tokens),
            "tokens": round(used.input_tokens + used.output_tokens),
            "cost_usd": None if used.cost_usd is None else round(used.cost_usd, _COST_DIGITS),
            "priced_cost_usd": round(used.priced_cost_usd, _COST_DIGITS),
            "unpriced": round(used.unpriced),
        },
        "loops": loops,
        "startup_seconds": startup,
        "import_seconds": imported,
        "slow_imports": slow_imports(rows),
        "own_seconds_by_kind": dict(time_by_kind(rows)),
        "bottlenecks": bottlenecks,
        # otel-agentperf's own cost: the sampled rows it is figured from, and the figure (report's last line).
        "overhead_samples": [
            {"kind": row.name, "calls": round(row.calls), "total_seconds": row.total_seconds}
            for row in rows
            if row.kind == OVERHEAD
        ],
        "own_cost": None if (cost := own_cost(rows)) is None else cost._asdict(),
    }
    return report


def render_json(rows: list[Row], bottlenecks: list[str]) -> str:
    """:func:`as_dict` as JSON."""
    return json.dumps(as_dict(rows, bottlenecks), indent=2)


def read_json(report: dict[str, Any]) -> list[Row]:
    """The rows of a :func:`render_json` output, as they were: its operations and its code outside
    operations (a baseline for ``check``). What the JSON leaves out stays out: the buckets (each quantile
    is there as estimated), so a row read back gives the figures it printed, not new estimates."""
    found = []
    for item in report["operations"]:
        row = Row(**{name: item[name] for name in _FIELDS if name in item and name not in ("cost_usd", "bounds")})
        row.cost_usd = float(item["priced_cost_usd"])
        row.bounds = {key: (low, math.inf if high is None else high) for key, (low, high) in item["bounds"].items()}
        found.append(row)
    found += [
        Row(
            CODE,
            code["name"],
            blocked_seconds=code["blocked_seconds"],
            consumed_seconds=code.get("consumed_seconds", 0.0),
        )
        for code in report["code_outside_operations"]
    ]
    found += [
        Row(
            LOOP,
            loop["name"],
            loop_seconds=loop["running_seconds"],
            busy_seconds=loop["busy_seconds"],
            saturated_seconds=loop["saturated_seconds"],
            saturated_queued_seconds=loop["saturated_queued_seconds"],
        )
        for loop in report.get("loops", [])
    ]
    found += [_request_row(request) for request in report.get("requests", [])]
    found += [
        Row(OVERHEAD, item["kind"], calls=item["calls"], total_seconds=item["total_seconds"])
        for item in report.get("overhead_samples", [])
    ]
    return found


def _request_row(request: dict[str, Any]) -> Row:
    """A request's row from its JSON (``requests.as_json``): its count, mean and quantiles as printed, and its
    critical path as it was shown (holders already charged with the waits; the parts past the first few as
    one), back in seconds over all its requests, so ``compare`` reads a report as it reads a run."""
    count = request["count"]
    row = Row(
        REQUEST, f"{request['kind']} {request['name']}", calls=count, total_seconds=request["mean_seconds"] * count
    )
    for key in ("p50", "p95"):
        value = request[f"{key}_seconds"]
        if value is not None:
            row.quantiles[key] = value
            row.bounds[key] = (value, value)
    row.critical_path = {
        (part["kind"] or "", part["name"]): part["seconds"] * count for part in request["critical_path"]
    }
    return row
