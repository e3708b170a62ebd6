"""What every report must satisfy, whatever the app: checked on every report the suite produces.

A report whose numbers are impossible is a bug even when it names the right culprit. :func:`check_text`
reads a rendered report (``run``, ``report``, ``traces``, the table or Markdown) and :func:`check_json`
the JSON one; both raise :class:`Impossible` naming each broken rule:

- a row's held event-loop time is at most its total time, and the loops' total at most their wall time
  (when the caller knows it: ``wall`` seconds times ``loops``);
- p50 <= p95 <= p99, each at most the row's total (no observation exceeds the sum) and, where the
  smallest and largest values are known, between them;
- every share is at most 100%, and the shares of one whole add up to it;
- a request's critical path adds up to its mean wall time, its shares to 100%, its parts most first;
- the table is sorted by the column it says it is sorted by;
- findings with a cost come first, in non-increasing cost;
- no machine path in a row or a finding (unless ``paths`` is allowed), no row named ``-``, none with 0
  calls, and no ``_OTHER`` in any span or row name.
"""

from __future__ import annotations

import itertools
import math
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

_NUMBER = r"-?[\d,]*\.?\d+"
_MS = re.compile(rf"({_NUMBER}) ms\b")
_SHARE = re.compile(rf"({_NUMBER})%")
_RAN = re.compile(r"exited with status \d+ after ([\d.]+) s;")
# The package's own cost: in seconds, with its share of a whole it names (views/families.py, OwnCost).
_OWN_COST = re.compile(
    rf"otel-agentperf's own cost: {_NUMBER} ms of CPU time"
    r"(?:, [\d.]+% of (?:the event loops' running time|the requests' time and its own))?"
    r" \(\d+ µs per operation, sampled\)"
)
_HELD_IN_ALL = re.compile(rf"event loops held ({_NUMBER}) ms in all")
_HELD_NOTE = re.compile(rf"held the event loop ({_NUMBER}) ms")
_HELD_RATE = re.compile(rf"loop held ({_NUMBER}) ms/s")
_BY_KIND = re.compile(rf"^Where the time goes: .*? is ({_NUMBER}) ms \(.*?\): (.*?)(?:;|$)")
_KIND_PART = re.compile(rf"(\S+) ({_NUMBER}) ms \(({_NUMBER})%\)")
_REQUEST = re.compile(rf"^- (\S+) `(.+)`: ({_NUMBER}) requests, p50 (.+?) ms, p95 (.+?) ms, mean ({_NUMBER}) ms: (.*)$")
_PATH_PART = re.compile(rf"(.+?) ({_NUMBER}) ms \((\d+)%\)(?:, |$)")
# The sentences that carry a cost in seconds, each giving it as its first duration.
_COSTED = (
    " takes ",
    " held the asyncio event loop for ",
    " ms wasted)",
    " was retried by its SDK",
    " calls one after another, ",
    " with the same arguments as an earlier call",
    " prompts grow every turn: ",
    " for a free HTTP connection",
    " was saturated: ",
)
_ROOTS = ("/home/", "/root/", "/tmp/", "/usr/", "/opt/", "/var/", "/work/", "/private/", "/Users/", "/srv/")


class Impossible(AssertionError):
    """The report says something that cannot be true; the message lists every broken rule."""


def _number(text: str) -> float:
    return float(text.replace(",", ""))


def _cell(text: str) -> float | None:
    """A table cell as a number (``< 0.2`` and ``> 5.0`` as their bound), or None when it is ``-`` or empty."""
    text = text.strip().lstrip("<>").strip()
    if not text or text == "-":
        return None
    try:
        return _number(text)
    except ValueError:
        return None


def machine_paths() -> tuple[str, ...]:
    """Paths that name this machine: its home folder, the checkout, the current folder."""
    found = {str(Path.home()), str(Path(__file__).resolve().parent.parent), os.getcwd()}
    return tuple(path for path in found if len(path) > 1)


def _has_path(text: str) -> bool:
    return any(root in text for root in _ROOTS) or any(path in text for path in machine_paths()) or "//" in text


class _Checker:
    def __init__(self, wall: float | None, loops: int, paths: bool) -> None:
        self.wall, self.loops, self.paths = wall, loops, paths
        self.broken: list[str] = []

    def fail(self, rule: str) -> None:
        self.broken.append(rule)

    def done(self) -> None:
        if self.broken:
            raise Impossible("impossible report:\n" + "\n".join(f"- {rule}" for rule in self.broken))

    def name(self, kind: str, name: str) -> None:
        if name.strip() in ("", "-"):
            self.fail(f"a {kind} row named {name!r}")
        if kind == "code" and ("<" in name.split(":", maxsplit=1)[0] or "/" in name or ":" not in name):
            self.fail(f"code outside operations not named module:function: {name}")
        if "_OTHER" in name:
            self.fail(f"_OTHER in the row name {kind} {name}")
        if not self.paths and _has_path(name):
            self.fail(f"a machine path in the row name {kind} {name}")

    def quantiles(self, where: str, values: Mapping[str, float | None], total: float, low: Any, high: Any) -> None:
        known = [(key, value) for key, value in values.items() if value is not None]
        for (key_a, a), (key_b, b) in itertools.pairwise(known):
            if a > b * (1 + 1e-9) + 1e-12:
                self.fail(f"{where}: {key_a} {a:g} above {key_b} {b:g}")
        for key, value in known:
            if value > total * (1 + 1e-6) + 1e-9:
                self.fail(f"{where}: {key} {value:g} above the sum of all observations {total:g}")
            if low is not None and high is not None and not low - 1e-9 <= value <= high + 1e-9:
                self.fail(f"{where}: {key} {value:g} outside [min {low:g}, max {high:g}]")

    def held(self, where: str, held: float, total: float) -> None:
        if held > total * (1 + 1e-6) + 1e-9:
            self.fail(f"{where}: held the loop {held:g}, more than its total time {total:g}")

    def loops_held(self, held_seconds: float) -> None:
        if self.wall is not None and held_seconds > self.wall * self.loops * 1.02 + 0.005:
            self.fail(
                f"event loops held {held_seconds:.3f} s in all, more than {self.loops} loop(s) x {self.wall:.3f} s"
            )

    def findings(self, sentences: Iterable[str]) -> None:
        costs: list[tuple[float, str]] = []
        uncosted = False
        for sentence in sentences:
            if not self.paths and _has_path(sentence):
                self.fail(f"a machine path in the finding: {sentence}")
            costed = any(marker in sentence for marker in _COSTED)
            if not costed:
                uncosted = True
                continue
            if uncosted:
                self.fail(f"a finding with a cost after one without: {sentence}")
            found = _MS.search(sentence)
            if found is None:
                self.fail(f"a costed finding without its cost: {sentence}")
                continue
            costs.append((_number(found.group(1)), sentence))
        for (a, first), (b, second) in itertools.pairwise(costs):
            if b > a + 0.05:  # one decimal of a millisecond as printed
                self.fail(f"findings out of cost order: {b} ms after {a} ms ({second!r} after {first!r})")

    def request_path(self, where: str, mean: float, parts: list[tuple[str, float, int]]) -> None:
        """A request's critical path: parts (label, ms or seconds per request, share %) add up to its mean and
        100%, most first (a last part summing the rest may be any size)."""
        if not parts:
            self.fail(f"{where}: no critical path")
            return
        total = sum(value for _, value, _ in parts)
        if abs(total - mean) > 0.05 * len(parts) + 0.01 * mean:
            self.fail(f"{where}: the critical path adds up to {total:g}, not the mean {mean:g}")
        if sum(share for _, _, share in parts) != 100 and total > 0:
            self.fail(f"{where}: the critical path's shares add up to {sum(share for _, _, share in parts)}%")
        ranked = parts[:-1] if parts[-1][0].endswith(" other operations") else parts
        for (label_a, a, _), (label_b, b, _) in itertools.pairwise(ranked):
            if b > a + 1e-9:
                self.fail(f"{where}: the critical path is not most first: {label_b} {b:g} after {label_a} {a:g}")

    def shares(self, text: str) -> None:
        for found in _SHARE.finditer(text):
            if _number(found.group(1)) > 100:
                self.fail(f"a share above 100%: {text.strip()}")


def check_text(report: str, *, wall: float | None = None, loops: int = 1, paths: bool = False) -> None:
    """Check a rendered report (table or Markdown, with its sentences and waterfalls; or the live view).

    ``run``'s report says how long its command ran: that is the wall time unless the caller gives one.
    """
    if wall is None and (ran := _RAN.search(report)) is not None:
        wall = float(ran.group(1))
    checker = _Checker(wall, loops, paths)
    lines = report.splitlines()
    _table(checker, lines)
    for line in lines:
        checker.shares(line)
        if line.startswith("otel-agentperf's own cost") and not _OWN_COST.fullmatch(line.strip()):
            checker.fail(f"the own cost is not in seconds with a share of a named whole: {line.strip()}")
        if (found := _HELD_IN_ALL.search(line)) is not None:
            checker.loops_held(_number(found.group(1)) / 1000)
        if (found := _HELD_RATE.search(line)) is not None and _number(found.group(1)) > 1000 * loops * 1.02 + 5:
            checker.fail(f"a row held its loop {found.group(1)} ms per second: {line.strip()}")
        if (found := _BY_KIND.search(line.strip())) is not None:
            whole = _number(found.group(1))
            parts = _KIND_PART.findall(found.group(2))
            total = sum(_number(ms) for _, ms, _ in parts)
            if parts and abs(total - whole) > 0.1 * len(parts):
                checker.fail(f"the kinds add up to {total:.1f} ms, not the stated {whole:.1f} ms: {line.strip()}")
    for line in lines:
        if (found := _REQUEST.match(line.strip())) is not None:
            kind, name, count, p50, p95, mean, parts = found.groups()
            where = f"request {kind} {name}"
            # The mean is shown to 0.1 ms: the sum is at most half of that more, a request
            most = (_number(mean) + 0.05) * _number(count)
            checker.quantiles(where, {"p50": _cell(p50), "p95": _cell(p95)}, most, None, None)
            path = [(label, _number(ms), int(share)) for label, ms, share in _PATH_PART.findall(parts)]
            checker.request_path(where, _number(mean), [(label, ms, share) for label, ms, share in path])
    checker.findings(_bottleneck_lines(lines))
    for name in _code_names(lines):
        checker.name("code", name)
    for label in _span_labels(lines):
        if "_OTHER" in label:
            checker.fail(f"_OTHER in the span name {label}")
    checker.done()


def _bottleneck_lines(lines: list[str]) -> list[str]:
    found: list[str] = []
    inside = False
    for line in lines:
        stripped = line.strip()
        if stripped in ("Bottlenecks:", "**Bottlenecks**"):
            inside = True
            continue
        if inside and stripped.startswith("- "):
            found.append(stripped[2:])
        elif inside and stripped and not stripped.startswith("- "):
            inside = False
    return found


def _code_names(lines: list[str]) -> list[str]:
    """The names under "Code outside operations that held the event loop:"."""
    found: list[str] = []
    inside = False
    for line in lines:
        if line.startswith("Code outside operations"):
            inside = True
        elif inside and (held := re.match(r"- (.+) held it [\d.,]+ ms$", line.strip())):
            found.append(held.group(1))
        else:
            inside = False
    return found


def _span_labels(lines: list[str]) -> list[str]:
    """The span names of every waterfall line (between the numbers and the bar)."""
    labels = []
    for line in lines:
        if line.rstrip().endswith("|") and "|" in line:
            before_bar = line[: line.index("|")].split()
            words = [word for word in before_bar if _cell(word) is None]
            labels.append(" ".join(words))
    return labels


def _table(checker: _Checker, lines: list[str]) -> None:
    """The operation table: its rows' names, counts, quantiles and held time, and its order."""
    for index, line in enumerate(lines):
        markdown = line.startswith("| kind | operation |")
        if not (markdown or re.match(r"^kind\s+operation\s+calls\b", line)):
            continue
        header = [cell.strip() for cell in line.strip("|").split("|")] if markdown else None
        said = lines[index - 2 if markdown else index - 1] if index else ""
        body = lines[index + (2 if markdown else 1) :]
        rows: list[dict[str, str]] = []
        for row_line in body:
            if not row_line.strip() or (markdown and not row_line.startswith("|")):
                break
            rows.append(_row(line, row_line, header))
        _rows(checker, rows, said)


def _row(header_line: str, line: str, header: list[str] | None) -> dict[str, str]:
    """One table row by column: Markdown by its pipes; the terminal table by where the header puts each
    column (kind and operation left-aligned, numbers right-aligned to the header's end, notes last)."""
    if header is not None:
        return dict(zip(header, [cell.strip() for cell in line.strip().strip("|").split("|")], strict=False))
    operation = header_line.index("operation")
    cells = {"kind": line[:operation].strip(), "operation": line[operation:].split("  ", maxsplit=1)[0].strip()}
    for column in re.findall(r"\S+(?: \S+)*", header_line)[2:]:
        start = header_line.index(column)
        if column == "notes":
            cells[column] = line[start:].strip()
        else:
            cells[column] = line[: start + len(column)].rsplit("  ", maxsplit=1)[-1].strip()
    return cells


def _rows(checker: _Checker, rows: list[dict[str, str]], said: str) -> None:
    key = "own ms" if "by own ms" in said else "total ms" if "by total ms" in said else None
    if key is None:
        checker.fail(f"the table does not say what it is sorted by (above it: {said!r})")
    previous: float | None = None
    for row in rows:
        kind, name = row.get("kind", ""), row.get("operation", "")
        checker.name(kind, name)
        calls = _cell(row.get("calls", ""))
        if not calls:
            checker.fail(f"the row {kind} {name} has no calls")
        total = _cell(row.get("total ms", "")) or 0.0
        values = {q: _cell(row.get(f"{q} ms", "")) for q in ("p50", "p95", "p99")}
        checker.quantiles(f"{kind} {name}", values, total, None, None)
        own, self_time = _cell(row.get("own ms", "")), _cell(row.get("self ms", ""))
        if own is not None and self_time is not None and own > self_time + 0.05:
            checker.fail(f"{kind} {name}: own {own} ms above self {self_time} ms")
        if self_time is not None and self_time > total + 0.05:
            checker.fail(f"{kind} {name}: self {self_time} ms above total {total} ms")
        if (found := _HELD_NOTE.search(row.get("notes", ""))) is not None:
            checker.held(f"{kind} {name}", _number(found.group(1)), total)
        if key is not None:
            value = _cell(row.get(key, ""))
            if value is not None and previous is not None and value > previous + 0.05:
                checker.fail(f"the table is not sorted by {key}: {kind} {name} {value} after {previous}")
            previous = value if value is not None else previous


def check_json(report: Mapping[str, Any], *, wall: float | None = None, loops: int = 1, paths: bool = False) -> None:
    """Check a JSON report (``report --format json``)."""
    checker = _Checker(wall, loops, paths)
    for request in report.get("requests", []):
        where = f"request {request['kind']} {request['name']}"
        if not isinstance(request["count"], int) or request["count"] < 1:
            checker.fail(f"{where}: count is not a whole number of requests: {request['count']!r}")
        mean = request["mean_seconds"]
        quantiles = {"p50": request["p50_seconds"], "p95": request["p95_seconds"]}
        checker.quantiles(where, quantiles, mean * request["count"], None, None)
        parts = [(part["name"], part["seconds"] * 1000, part["share_percent"]) for part in request["critical_path"]]
        checker.request_path(where, mean * 1000, parts)
    operations = report.get("operations", [])
    previous: float | None = None
    held = 0.0
    for op in operations:
        kind, name = op["kind"], op["name"]
        checker.name(kind, name)
        for count in ("calls", "errors"):
            if not isinstance(op[count], int):
                checker.fail(f"{kind} {name}: {count} is not a whole number: {op[count]!r}")
        if not op["calls"]:
            checker.fail(f"the row {kind} {name} has no calls")
        total = op["total_seconds"]
        checker.quantiles(f"{kind} {name}", op["quantiles"], total, op.get("minimum"), op.get("maximum"))
        checker.held(f"{kind} {name}", op["blocked_seconds"], total)
        held += op["blocked_seconds"]
        if op["self_seconds"] > total + 1e-9 or op["own_seconds"] > op["self_seconds"] + 1e-9:
            checker.fail(f"{kind} {name}: own {op['own_seconds']} <= self {op['self_seconds']} <= total {total} broken")
        for money in ("cost_usd", "priced_cost_usd"):
            value = op.get(money)
            if isinstance(value, float) and (not math.isfinite(value) or value != round(value, 9)):
                checker.fail(f"{kind} {name}: {money} is not rounded: {value!r}")
        key = op["own_seconds"] if op["self_known"] else op["total_seconds"]
        if previous is not None and key > previous + 1e-9:
            checker.fail(f"operations not in order: {kind} {name} {key} after {previous}")
        previous = key
    for code in report.get("code_outside_operations", []):
        checker.name("code", code["name"])
        held += code["blocked_seconds"]
    checker.loops_held(held)
    checker.findings(report.get("bottlenecks", []))
    checker.done()


_SIGNED = r"[+-]?[\d,]*\.?\d+"  # a change: +315.3, -5.6
_CAUSE = re.compile(rf"^    (?:\S+ )?.+?: ({_SIGNED}) ms \(({_NUMBER})%\)")
_RESIDUAL = re.compile(rf"^    residual: ({_SIGNED}) ms$")
_CHANGE_SHARE = re.compile(rf"\(({_NUMBER})% of the change\)")
_MEAN = re.compile(rf"^  mean: ({_NUMBER}) → ({_NUMBER}) ms \(({_SIGNED}) ms\)")


def check_compare_json(report: Mapping[str, Any]) -> None:
    """Check ``compare --format json``: per root, the causes and the residual add up to the change in mean
    latency, which is the new mean less the base's; shares are at most 100% and add up to 100 when anything
    moved; an LLM cause's parts and their residual add up to its change; a model's cost change is its two
    terms; every per-request change is new less base."""
    checker = _Checker(None, 1, False)
    for root in report["roots"]:
        where = f"compare {root['kind']} {root['name']}"
        base, new = root["mean_seconds"]
        delta = root["delta_mean_seconds"]
        if not math.isclose(delta, new - base, abs_tol=1e-9):
            checker.fail(f"{where}: Δ mean {delta} is not {new} - {base}")
        summed = sum(cause["delta_seconds"] for cause in root["causes"]) + root["residual_seconds"]
        if not math.isclose(summed, delta, abs_tol=1e-9):
            checker.fail(f"{where}: causes and residual add up to {summed}, not the Δ {delta}")
        shares = [cause["share_percent"] for cause in root["causes"]]
        if any(share > 100 + 1e-9 or share < 0 for share in shares):
            checker.fail(f"{where}: a share outside 0-100%: {shares}")
        if any(cause["delta_seconds"] for cause in root["causes"]) and not math.isclose(sum(shares), 100):
            checker.fail(f"{where}: shares add up to {sum(shares)}%")
        for cause in root["causes"]:
            if cause["parts"]:
                parts = sum(part["seconds"] for part in cause["parts"]) + cause["parts_residual_seconds"]
                if not math.isclose(parts, cause["delta_seconds"], abs_tol=1e-9):
                    checker.fail(f"{where}: {cause['name']}'s parts add up to {parts}, not {cause['delta_seconds']}")
        ordered = [abs(cause["delta_seconds"]) for cause in root["causes"]]
        if ordered != sorted(ordered, reverse=True):
            checker.fail(f"{where}: causes not largest first")
    for cost in report["cost_by_model"]:
        if not math.isclose(cost["from_calls_usd"] + cost["from_per_call_usd"], cost["delta_usd"], abs_tol=1e-15):
            checker.fail(f"cost of {cost['name']}: its terms do not add up to its change")
    for count in report["per_request"]:
        if not math.isclose(count["new"] - count["base"], count["delta"], abs_tol=1e-12):
            checker.fail(f"per request {count['name']}: delta is not new - base")
    for diagnosis in report.get("diagnoses", []):
        base, new = diagnosis["seconds"]
        if not math.isclose(new - base, diagnosis["delta_seconds"], abs_tol=1e-12):
            checker.fail(f"diagnosis {diagnosis['line']}: delta is not new - base")
    checker.done()


def check_compare_text(report: str) -> None:
    """Check ``compare``'s table or Markdown: per root, the causes shown (and the residual) add up to the
    change in mean latency within the rounding of the figures printed, and no share is over 100%."""
    checker = _Checker(None, 1, False)
    checked = 0
    lines = [line.replace("- ", "  ", 1) if line.startswith("- ") else line for line in report.splitlines()]
    lines = [line.replace("  - ", "    ", 1) if line.startswith("  - ") else line for line in lines]
    delta: float | None = None
    causes: list[float] = []
    for line in lines:
        mean = _MEAN.match(line)
        if mean:
            delta, causes = _number(mean.group(3)), []
            continue
        residual = _RESIDUAL.match(line)
        if residual and delta is not None:
            summed = sum(causes) + _number(residual.group(1))
            if abs(summed - delta) > 0.05 * (len(causes) + 2):
                checker.fail(f"causes and residual add up to {summed:.1f} ms, not the Δ {delta:.1f} ms: {line}")
            delta, checked = None, checked + 1
            continue
        cause = _CAUSE.match(line)
        if cause and delta is not None:
            causes.append(_number(cause.group(1)))
            if _number(cause.group(2)) > 100:
                checker.fail(f"a share over 100%: {line}")
    for share in _CHANGE_SHARE.findall(report):
        if _number(share) > 100:
            checker.fail(f"a cause over 100% of the change: {share}%")
    if " → " in report and "causes" in report and not checked:
        checker.fail("a comparison with causes whose sums could not be read")
    checker.done()
