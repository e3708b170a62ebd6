"""Bottlenecks in words: what a developer should look at first, from report rows."""

from __future__ import annotations

import itertools
import math
from typing import NamedTuple

from otel_agentperf.conventions import names
from otel_agentperf.views.families import (
    CODE,
    IMPORT,
    LOOP,
    NOT_OPERATIONS,
    REQUEST,
    STARTUP,
    own_cost,
    significant,
)
from otel_agentperf.views.rows import Row, ms, usd

# Kinds whose time is their own; agents and workflows contain the time of what they call.
LEAF_KINDS = (
    names.KIND_LLM,
    names.KIND_TOOL,
    names.KIND_CONFIG,
    names.KIND_HISTORY,
    names.KIND_CREATE_AGENT,
    names.KIND_MCP,
)
_LONG_TAIL_RATIO = 5.0
_LONG_TAIL_MIN_CALLS = 20
# A prompt grows when its conversations reach this many turns on average and their last turn's input is
# at least this many times the first's: a second turn carrying the first one's answer is not growth.
_GROWING_TURNS = 3.0
_GROWING_RATIO = 1.5
# Calls one after another are named only when running them together would save this share of their time:
# a few milliseconds saved on seconds of calls (one long call beside short ones) is no finding.
_OVERLAP_SHARE = 0.1
_EXPLAINS = 0.5  # holding the loop for this share of its own time explains an operation's own time
# Own time under this share of the time an operation queued on a saturated loop is not named: the queue is
# sampled (a look's time per task, docs/metrics.md), so such an own time is the estimate's residue, within
# its error, not a cost (an await of ``sleep(0)`` behind fifty tasks is all queue).
_RESIDUE = 0.25
_BUSIEST = 4  # operations and code a saturated loop's sentence names, the most first
# Held time under the default blocking threshold in all is no finding: no block of its was past the threshold
# (a few milliseconds an operation got of a block that began in the code around it, say).
_LEAST_HELD = 0.02


def _label(row: Row) -> str:
    return f"{row.kind} `{row.name}`"


def time_by_kind(rows: list[Row]) -> list[tuple[str, float]]:
    """Own time per operation kind, the most first: where the time goes, nothing counted twice (an
    operation's own time leaves out the operations it called and the time it waited for a loop that other
    code held, which is the holder's)."""
    totals: dict[str, float] = {}
    for row in rows:
        if row.self_known:
            totals[row.kind] = totals.get(row.kind, 0.0) + row.own_seconds
    return sorted(totals.items(), key=lambda item: item[1], reverse=True)


OWN_TIME = "the operations' own time"  # the one denominator of every share the report gives


def where_time_goes(rows: list[Row]) -> str | None:
    """One line: own time by kind with its share of all operations' own time (stated once: summed over
    operations that ran at the same time, it can exceed the wall time), and how long loops were held."""
    totals = [(kind, seconds) for kind, seconds in time_by_kind(rows) if seconds > 0]
    own = sum(seconds for _, seconds in totals)
    if own <= 0:
        return None
    line = (
        f"Where the time goes: {OWN_TIME} is {ms(own)} ms (summed over operations, concurrent ones included): "
        + ", ".join(f"{kind} {ms(seconds)} ms ({100 * seconds / own:.0f}%)" for kind, seconds in totals)
    )
    held = sum(row.blocked_seconds for row in rows)
    waited = sum(row.waited_seconds for row in rows)
    if held:
        line += f"; event loops held {ms(held)} ms in all"
    if waited:
        line += f", awaiting operations waited {ms(waited)} ms for them"
    queued = sum(row.queued_seconds for row in rows)
    if queued:
        line += f"; awaiting operations queued {ms(queued)} ms for their turn on a busy loop"
    return line


def cold_start(rows: list[Row]) -> str | None:
    """One line: how long after the process started it was instrumented and ran its first agent."""
    phases = {row.name: row for row in rows if row.kind == STARTUP and row.calls}
    said = [
        f"{what} {ms(phases[phase].mean_seconds)} ms"
        for phase, what in ((names.STARTUP_INSTRUMENTED, "instrumented"), (names.STARTUP_FIRST_AGENT, "first agent"))
        if phase in phases
    ]
    if not said:
        return None
    processes = max(row.calls for row in phases.values())
    over = f" (mean of {processes:g} processes)" if processes > 1 else ""
    return "Cold start, after the process started: " + ", ".join(said) + over


def own_cost_line(rows: list[Row]) -> str | None:
    """The report's last line: what otel-agentperf itself cost, of the run and per operation (sampled)."""
    cost = own_cost(rows)
    if cost is None:
        return None
    share = "" if cost.share is None else f", {cost.share:.1%} of {cost.whole}"
    return (
        f"otel-agentperf's own cost: {cost.seconds * 1000:.1f} ms of CPU time{share}"
        f" ({cost.per_operation_seconds * 1e6:.0f} µs per operation, sampled)"
    )


def imports(rows: list[Row]) -> list[str]:
    """The cold start's imports as a table: each top-level package's cumulative import time per process
    (what it imported included), slowest first, with its share of the time until the first agent."""
    found = sorted((row for row in rows if row.kind == IMPORT and row.calls), key=lambda row: -row.total_seconds)
    if not found:
        return []
    first = next((row for row in rows if row.kind == STARTUP and row.name == names.STARTUP_FIRST_AGENT), None)
    until = first.mean_seconds if first is not None and first.calls else None
    width = max(len(row.name) for row in found)
    instrumented = next((row for row in rows if row.kind == STARTUP and row.name == names.STARTUP_INSTRUMENTED), None)
    before = (
        f", timed from instrumentation at {ms(instrumented.mean_seconds)} ms (what came before is not timed)"
        if instrumented is not None and instrumented.calls
        else ""
    )
    lines = [f"Imports until the first agent (per process, cumulative: each with what it imported{before}):"]
    for row in found:
        seconds = row.mean_seconds or 0.0
        share = f"  {100 * seconds / until:3.0f}% of the time to the first agent" if until else ""
        lines.append(f"  {row.name.ljust(width)}  {ms(seconds):>9} ms{share}")
    return lines


# An import is slow enough to name when a process spent this long on it: on a cold start, a tenth of a second
# is worth deferring whatever else is slow. Cumulative figures overlap (a package imported inside another counts
# for both), so a few more than one are named.
_SLOW_IMPORT_SECONDS = 0.1
_SLOW_IMPORTS_NAMED = 5


def slow_import_rows(rows: list[Row]) -> list[Row]:
    """The imports a process spent at least ``_SLOW_IMPORT_SECONDS`` on, slowest first; not this package's own
    modules (loaded as its instrumentors apply targets): the app cannot defer them."""
    found = sorted((row for row in rows if row.kind == IMPORT and row.calls), key=lambda row: -row.total_seconds)
    return [row for row in found if (row.mean_seconds or 0.0) >= _SLOW_IMPORT_SECONDS and row.name != names.SCOPE_NAME]


def slow_imports(rows: list[Row]) -> str | None:
    """One sentence naming the imports that made the cold start slow (per process, cumulative), slowest first,
    with their seconds and share of the time they were timed in (from instrumentation to the first agent: what
    came before, the interpreter and the launcher, no import of the app's can shorten): what to import lazily."""
    phases = {row.name: row.mean_seconds for row in rows if row.kind == STARTUP and row.calls}
    first, instrumented = phases.get(names.STARTUP_FIRST_AGENT), phases.get(names.STARTUP_INSTRUMENTED)
    timed = first - (instrumented or 0.0) if first else None
    slow = slow_import_rows(rows)[:_SLOW_IMPORTS_NAMED]
    if not slow:
        return None
    window = "instrumentation" if instrumented else "the process's start"
    said = [
        f"`{row.name}` {ms(row.mean_seconds)} ms"
        + (f" ({100 * (row.mean_seconds or 0.0) / timed:.0f}%)" if timed else "")
        for row in slow
    ]
    within = f" (share of the {ms(timed)} ms from {window} to the first agent)" if timed else ""
    return (
        f"Slow import{'s' if len(slow) > 1 else ''} at cold start, per process{within}: {', '.join(said)}; importing "
        f"{'them' if len(slow) > 1 else 'it'} where first used (lazily) starts the app sooner"
    )


_HOTSPOT_ROWS = 5  # operations whose CPU hotspots the report lists, most sampled first
_HOTSPOT_LOCATIONS = 3  # locations listed per operation


def hotspots(rows: list[Row]) -> list[str]:
    """Where the opt-in CPU sampler found operations running: per operation (most sampled first), its top
    code locations with their share of its samples."""
    sampled = sorted((row for row in rows if row.hotspots), key=lambda row: -sum(row.hotspots.values()))
    if not sampled:
        return []
    lines = ["CPU hotspots (sampled while running, not awaiting):"]
    for row in sampled[:_HOTSPOT_ROWS]:
        total = sum(row.hotspots.values())
        top = sorted(row.hotspots.items(), key=lambda item: -item[1])[:_HOTSPOT_LOCATIONS]
        said = ", ".join(f"{where} {100 * seconds / total:.0f}%" for where, seconds in top)
        lines.append(f"  {_label(row)} ({ms(total)} ms sampled): {said}")
    return lines


def bottlenecks(rows: list[Row], limit: int = 8) -> list[str]:
    """Sentences naming what cost the most, most first: each finding with a cost in seconds (own time,
    waste in redundant loads, holding the event loop, retries) ranked by it; then errors and long tails."""
    rows = [row for row in rows if row.kind != REQUEST]  # a request's time is its operations'
    costed: list[Finding] = []
    own_time = sum(row.own_seconds for row in rows)
    leaves = [row for row in rows if row.kind in LEAF_KINDS and row.calls]
    leaf_time = sum(row.total_seconds for row in leaves)
    # Own time: an operation's self time (never its callees', so an agent is not charged for its model), less
    # the time it waited for an event loop other code held (charged to that code below). An operation whose
    # own time is mostly holding the loop, repeating calls or prompts grown since their first turn is named
    # for that below, in the sentence that says what it did.
    busy = [
        row
        for row in rows
        if row.own_seconds > _RESIDUE * row.queued_seconds and _explained(row) < _EXPLAINS * row.own_seconds
    ]
    if own_time > 0 and busy:
        top = max(busy, key=lambda row: row.own_seconds)
        costed.append(
            Finding(
                top.own_seconds,
                "own",
                f"{_label(top)} takes {100 * top.own_seconds / own_time:.0f}% of {OWN_TIME} "
                f"({ms(top.own_seconds)} ms of {ms(own_time)} ms, over {top.calls:g} calls, "
                f"p95 {top.quantile_text('p95')} ms)",
                top,
            )
        )
    elif own_time <= 0 and leaves and leaf_time > 0:
        top = max(leaves, key=lambda row: row.total_seconds)
        share = 100 * top.total_seconds / leaf_time
        costed.append(
            Finding(
                top.total_seconds,
                "own",
                f"{_label(top)} takes {share:.0f}% of the time spent in models, tools, config and history "
                f"({ms(top.total_seconds)} ms over {top.calls:g} calls, p95 {top.quantile_text('p95')} ms)",
                top,
            )
        )
    for row in rows:
        if row.redundant:
            costed.append(
                Finding(
                    row.redundant_seconds,
                    "redundant",
                    f"{_label(row)} loaded config {row.calls:g} times; {row.redundant:g} were redundant reloads "
                    f"of an unchanged file ({ms(row.redundant_seconds)} ms wasted)",
                    row,
                )
            )
    costed += saturation(rows)
    costed += _holding_the_loop(rows)
    costed += diagnoses(rows)
    for row in rows:
        if row.retries:
            costed.append(Finding(row.retry_seconds, "retries", retry_sentence(row), row))
    # By cost, the figure each sentence gives first: a waste of 6 ms never precedes a block of 1.4 s. One sort
    # fills at most half the list, so the fifth loop holder does not push the only redundant load off it.
    shown: list[Finding] = []
    per_sort: dict[str, int] = {}
    for found in sorted(costed, key=lambda found: found.cost, reverse=True):
        per_sort[found.sort] = per_sort.get(found.sort, 0) + 1
        if per_sort[found.sort] <= max(limit // 2, 1):  # one sort fills half the list at most
            shown.append(found)
    said = [found.sentence for found in shown]
    for row in sorted(rows, key=lambda r: r.errors / r.calls if r.calls else 0.0, reverse=True):
        if row.errors:
            said.append(
                f"{_label(row)} failed {row.errors:g} of {row.calls:g} calls ({100 * row.errors / row.calls:.0f}%)"
            )
    for row in rows:
        # Certain, not interpolated: the least p99 can be against the most p50 can be (bucket edges and
        # the mean), so coarse buckets cannot make a tail up.
        p50_high = row.bounds.get("p50", (0.0, math.inf))[1]
        p99_low = row.bounds.get("p99", (0.0, 0.0))[0]
        if row.calls >= _LONG_TAIL_MIN_CALLS and 0 < p50_high < math.inf and p99_low > _LONG_TAIL_RATIO * p50_high:
            said.append(
                f"{_label(row)} has a long tail: p99 {row.quantile_text('p99')} ms against p50 "
                f"{row.quantile_text('p50')} ms"
            )
    return said[:limit]


def _explained(row: Row) -> float:
    """The part of a row's own time a finding of its own explains and names (holding the loop, repeats, grown
    prompts, waiting for a free connection): only what a sentence says counts, so a row whose figure falls
    short of its sentence is still named for its own time, never left out of the list."""
    grown = row.excess_seconds if growing_sentence(row) is not None else 0.0
    repeated = row.repeated_seconds if row.repeated_calls else 0.0
    waited = row.connection_wait_seconds if row.connection_wait_calls else 0.0
    return row.blocked_seconds + repeated + grown + waited


class Finding(NamedTuple):
    """A bottleneck sentence, what it cost in seconds (the first figure the sentence gives), its sort (own
    time, waste, loop, retries), and the operation it is about."""

    cost: float
    sort: str
    sentence: str
    row: Row


def saturation(rows: list[Row]) -> list[Finding]:
    """Loops that were saturated (busy for 90% of a window of at least 1 s, mostly with short callbacks: the
    loop monitor's rule) while tasks waited for them, each with what it cost: the time awaiting operations
    spent ready but queued for their turn in its saturated windows, in all; then what ran on the loops the
    most (operations, and code outside operations worth listing: ``families.significant``)."""
    found: list[Finding] = []
    # Named only when what queued in its saturated windows is at least half their time (half a task waiting
    # on average): a loop busy with nothing waiting for it slowed nothing down.
    saturated = [
        row
        for row in rows
        if row.kind == LOOP and row.saturated_seconds > 0 and row.saturated_queued_seconds >= row.saturated_seconds / 2
    ]
    if not saturated:
        return found
    shown = [
        row
        for row in significant(rows)
        if row.consumed_seconds > 0 and (row.kind == CODE or row.kind not in NOT_OPERATIONS)
    ]
    busiest = sorted(shown, key=lambda row: -row.consumed_seconds)[:_BUSIEST]
    ran = ", ".join(f"{_label(row)} {ms(row.consumed_seconds)} ms" for row in busiest)
    for loop in saturated:
        busy = 100 * loop.busy_seconds / loop.loop_seconds if loop.loop_seconds else 0.0
        found.append(
            Finding(
                loop.saturated_queued_seconds,
                "saturated",
                f"{_label(loop)} was saturated: awaiting operations queued {ms(loop.saturated_queued_seconds)} ms "
                f"in all for their turn while it ran many short callbacks, {ms(loop.saturated_seconds)} ms of its "
                f"{ms(loop.loop_seconds)} ms in windows busy 90% or more (busy {busy:.0f}% in all)"
                + (f"; it ran {ran}" if ran else ""),
                loop,
            )
        )
    return found


def _holding_the_loop(rows: list[Row]) -> list[Finding]:
    """What held event loops, each with what it cost: the time it held the loop, and its share of the time
    the operations awaiting on those loops waited (shared out by time held: the loop monitor knows who
    held a loop, not whom each block delayed)."""
    held = sum(row.blocked_seconds for row in rows)
    waited = sum(row.waited_seconds for row in rows)
    found: list[Finding] = []
    for row in rows:
        times = f" in {row.blocking:g} of {row.calls:g} calls" if row.blocking else ""
        if row.blocked_seconds >= _LEAST_HELD:
            caused = waited * row.blocked_seconds / held
            others = (
                f"the tasks awaiting beside it waited {ms(caused)} ms in all"
                if caused >= 0.0005
                else "no operation awaiting on the loop was timed waiting for it"
            )
            found.append(
                Finding(
                    row.blocked_seconds,
                    "loop",
                    f"{_label(row)} held the asyncio event loop for {ms(row.blocked_seconds)} ms{times} "
                    f"(synchronous work or I/O in async code): {others}",
                    row,
                )
            )
        elif row.blocking:
            found.append(
                Finding(
                    0.0,
                    "loop",
                    f"{_label(row)} blocked the asyncio event loop {row.blocking:g} times (synchronous I/O)",
                    row,
                )
            )
    return found


def diagnoses(rows: list[Row]) -> list[Finding]:
    """Work that could have overlapped, calls repeated with equal arguments, prompts that grow turn by
    turn and calls queued for a free connection, each with its cost in seconds first (its tokens and
    dollars after, where they apply)."""
    found: list[Finding] = []
    for row in rows:
        if row.sequential_calls and row.recoverable_seconds > _OVERLAP_SHARE * row.sequential_seconds:
            together = row.sequential_seconds - row.recoverable_seconds
            per_call = row.recoverable_seconds / row.calls if row.calls else 0.0
            found.append(
                Finding(
                    row.recoverable_seconds,
                    "overlap",
                    f"{_label(row)} ran {row.sequential_calls:g} model or tool calls one after another, with no "
                    f"work of its own between them: {ms(row.recoverable_seconds)} ms recoverable by running them "
                    f"together, where none needs another's result ({ms(together)} ms instead of "
                    f"{ms(row.sequential_seconds)} ms; {ms(per_call)} ms per {row.kind} call)",
                    row,
                )
            )
        if row.repeated_calls:
            spent = [f"{row.repeated_tokens:g} tokens"] if row.repeated_tokens else []
            spent += [usd(row.repeated_usd)] if row.repeated_usd else []
            found.append(
                Finding(
                    row.repeated_seconds,
                    "repeated",
                    f"{_label(row)} was called {row.repeated_calls:g} times with the same arguments as an earlier "
                    f"call of its request: {ms(row.repeated_seconds)} ms spent on repeats"
                    + (f" ({', '.join(spent)})" if spent else ""),
                    row,
                )
            )
        sentence = growing_sentence(row)
        if sentence is not None:
            found.append(Finding(row.excess_seconds, "growing", sentence, row))
        if row.connection_wait_calls and row.connection_wait_seconds > 0:
            found.append(Finding(row.connection_wait_seconds, "connection", connection_sentence(row), row))
    return found


def connection_sentence(row: Row) -> str:
    """Model calls queued in their HTTP client for a free connection: time the server never saw."""
    limit = row.connection_wait_limits / row.connection_wait_calls if row.connection_wait_calls else 0.0
    pool = f" (pool limit {limit:.0f})" if limit else ""
    return (
        f"{_label(row)}: {row.connection_wait_calls:g} calls waited {ms(row.connection_wait_seconds)} ms for a free "
        f"HTTP connection{pool}, before the server had them"
    )


def growing_sentence(row: Row) -> str | None:
    """A model whose prompts grow turn by turn: what later turns took beyond their conversation's first, the
    growth per turn and how the last turn compares with the first (conversations of about equal length)."""
    if not row.later_turns or not row.turn_distance or not row.first_turn_tokens or row.excess_seconds <= 0:
        return None
    turns = 2 * row.turn_distance / row.later_turns  # a conversation of T turns adds T(T-1)/2 over T-1 later turns
    per_turn = row.excess_tokens / row.turn_distance
    first = row.first_turn_tokens / row.later_turns
    ratio = (first + per_turn * (turns - 1)) / first
    if turns < _GROWING_TURNS or ratio < _GROWING_RATIO:
        return None
    extra = f"{row.excess_tokens:g} more input tokens" + (f", {usd(row.excess_usd)}" if row.excess_usd else "")
    return (
        f"{_label(row)} prompts grow every turn: later turns took {ms(row.excess_seconds)} ms more than their "
        f"conversation's first ({extra}); turn {turns:.0f} costs {ratio:.1f}x turn 1, +{per_turn:.0f} input "
        "tokens per turn"
    )


def retry_sentence(row: Row) -> str:
    """What an SDK's retries cost: the requests retried and why, and the time before each call's last try."""
    reasons = ", ".join(
        f"{reason} x{count:g}" for reason, count in sorted(row.retry_reasons.items(), key=lambda item: -item[1])
    )
    return (
        f"{_label(row)} was retried by its SDK: {row.retries:g} HTTP request{'' if row.retries == 1 else 's'} "
        f"retried ({reasons}) in "
        f"{row.retried_calls:g} of {row.calls:g} calls, {ms(row.retry_seconds)} ms spent on failed attempts "
        "and backoff (rate limits or server errors)"
    )


def growth(points: list[tuple[float, float]], minimum: int = 3) -> bool:
    """True when latency rose with size over the last ``minimum`` (size, latency) windows, size growing."""
    recent = points[-minimum:]
    if len(recent) < minimum:
        return False
    return all(b[0] > a[0] and b[1] > a[1] for a, b in itertools.pairwise(recent))


def growth_sentence(kind: str, name: str, points: list[tuple[float, float]]) -> str:
    (size_from, p95_from), (size_to, p95_to) = points[-3], points[-1]
    return (
        f"{kind} `{name}` p95 grows with history size: {ms(p95_from)} ms at {size_from:.0f} records, "
        f"{ms(p95_to)} ms at {size_to:.0f} (a linear scan?)"
    )
