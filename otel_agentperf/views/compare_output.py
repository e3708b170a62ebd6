"""``compare``'s output: the lead sentence per root, then its causes, the per-request counts and the cost by
model, as a table (terminal), Markdown (a pull-request comment) or JSON (seconds and dollars)."""

from __future__ import annotations

import json
from typing import Any

from otel_agentperf.views.compare import Cause, Comparison, Diagnosis, Root, percent
from otel_agentperf.views.families import IMPORT
from otel_agentperf.views.rows import usd

SHOWN = 8  # causes listed per root; the rest are summed as one line


def delta_ms(seconds: float) -> str:
    """A signed change in milliseconds: ``+12.5 ms``."""
    return f"{seconds * 1000:+.1f} ms"


def _usd(value: float) -> str:
    return ("+" if value >= 0 else "-") + usd(abs(value))


def verdict_text(root: Root) -> str:
    """``significant (Mann-Whitney U ..., p = 0.004 < 0.01)``, ``within noise (p = 0.2)``, or why untested."""
    verdict = root.verdict
    if verdict.p is None:
        return f"not tested: {verdict.test.removeprefix('none: ')}"
    said = "significant" if verdict.significant else "within noise"
    return f"{said} (p = {verdict.p:.2g}, {verdict.test}, alpha = {verdict.alpha:g})"


def lead(root: Root) -> str:
    """The first line: the root's change in mean latency and its largest cause with its share."""
    change = percent(root.delta, root.base.mean_seconds)
    share = "" if change is None else f" ({change:+.0f}%)"
    said = f"{root.kind} `{root.name}`: mean request latency {delta_ms(root.delta)}{share}"
    if root.causes:
        cause = root.causes[0]
        money = f", {_usd(cause.usd)} per request" if cause.usd else ""
        said += (
            f"; largest cause: {cause.kind} `{cause.name}` {delta_ms(cause.delta)} per request{money} "
            f"({root.share(cause):.0f}% of the change)"
        )
    return f"{said}; {verdict_text(root)}"


def cause_figures(root: Root, cause: Cause) -> str:
    """A cause's change as its line says it: ``+12.5 ms (80%), +$0.0001 [10.0 → 22.5 ms on the path]``."""
    money = f", {_usd(cause.usd)}" if cause.usd else ""
    return (
        f"{delta_ms(cause.delta)} ({root.share(cause):.0f}%){money}"
        f" [{cause.base * 1000:.1f} → {cause.new * 1000:.1f} ms on the path]"
    )


def part_lines(cause: Cause) -> list[str]:
    """An LLM cause's parts that moved (all of them are in the JSON), then what they leave unexplained."""
    found = [
        f"{part.what} ({part.formula}): {delta_ms(part.seconds)}"
        for part in cause.parts
        if round(part.seconds * 1000, 1) != 0
    ]
    return [*found, f"residual: {delta_ms(cause.residual)}"] if cause.parts else []


def _cause_lines(root: Root, bullet: str, part_bullet: str) -> list[str]:
    shown, rest = root.causes[:SHOWN], root.causes[SHOWN:]
    found = []
    for cause in shown:
        found.append(f"{bullet}{cause.kind} {cause.name}: {cause_figures(root, cause)}")
        found += [f"{part_bullet}{line}" for line in part_lines(cause)]
    if rest:
        moved = sum(root.share(cause) for cause in rest)
        found.append(f"{bullet}{len(rest)} other operations: {delta_ms(sum(c.delta for c in rest))} ({moved:.0f}%)")
    found.append(f"{bullet}residual: {delta_ms(root.residual)}")
    return found


def _root_lines(root: Root, bullet: str) -> list[str]:
    base, new = root.base, root.new
    found = [f"{root.kind} `{root.name}`: {verdict_text(root)}"]
    for key in ("p50", "p95"):
        old, now = base.quantiles.get(key), new.quantiles.get(key)
        if old is not None and now is not None:
            found.append(f"{bullet}{key}: {old * 1000:.1f} → {now * 1000:.1f} ms ({delta_ms(now - old)})")
    found.append(
        f"{bullet}mean: {(base.mean_seconds or 0) * 1000:.1f} → {(new.mean_seconds or 0) * 1000:.1f} ms "
        f"({delta_ms(root.delta)}), {base.calls:g} → {new.calls:g} requests"
    )
    found.append(f"{bullet}causes (Δ critical-path time per request; they and the residual add up to the mean's Δ):")
    found += _cause_lines(root, "  " + bullet, "    " + bullet)
    return found


def _count_text(value: float, unit: str) -> str:
    if unit == "USD":
        return usd(value) if value >= 0 else "-" + usd(-value)
    if unit == "s":
        return f"{value * 1000:.1f} ms"
    return f"{value:.2f}{' ' + unit if unit else ''}"


def count_groups(comparison: Comparison) -> list[tuple[str, list[str]]]:
    """The per-request counts, then the cost by model: each a heading and its lines."""
    old, now = comparison.requests
    counts = []
    for count in comparison.counts:
        change = "changed" if count.exact and count.changed else "unchanged" if count.exact else ""
        delta = (_usd(count.delta) if count.unit == "USD" else _count_text(count.delta, count.unit)).lstrip()
        sign = "" if delta.startswith(("+", "-")) else "+"
        counts.append(
            f"{count.name}: {_count_text(count.base, count.unit)} → {_count_text(count.new, count.unit)} "
            f"({sign}{delta}){' ' + change if change else ''}"
        )
    found = [(f"Per request (row totals over all {old:g} → {now:g} requests of every root):", counts)]
    if comparison.costs:
        costs = [
            f"{cost.name}: {_usd(cost.delta)} = {_usd(cost.from_calls)} from calls "
            f"({cost.calls[0]:.2f} → {cost.calls[1]:.2f}) + {_usd(cost.from_per_call)} from cost per call "
            f"({usd(cost.usd_per_call[0])} → {usd(cost.usd_per_call[1])}; tokens per call "
            f"{cost.tokens_per_call[0]:.1f} → {cost.tokens_per_call[1]:.1f})"
            for cost in comparison.costs
        ]
        found.append(
            ("Cost per request by model (Δ = Δcalls x old cost per call + new calls x Δcost per call):", costs)
        )
    return found


def count_lines(comparison: Comparison, bullet: str) -> list[str]:
    return [line for heading, lines in count_groups(comparison) for line in (heading, *(bullet + x for x in lines))]


def diagnosis_text(diagnosis: Diagnosis) -> str:
    """``repeated calls of tool `lookup`: 12.0 → 130.5 ms per request (+118.5 ms), tokens +450, +$0.0012``."""
    old, now = diagnosis.seconds
    subject = f"`{diagnosis.name}`" if diagnosis.kind == IMPORT else f"of {diagnosis.kind} `{diagnosis.name}`"
    place = f" at {diagnosis.place}" if diagnosis.place else ""
    said = (
        f"{diagnosis.what} {subject}{place}: {old * 1000:.1f} → {now * 1000:.1f} ms per "
        f"{diagnosis.per} ({delta_ms(diagnosis.delta)})"
    )
    if diagnosis.tokens is not None and diagnosis.tokens != (0.0, 0.0):
        said += f", tokens {diagnosis.tokens[1] - diagnosis.tokens[0]:+.1f}"
    if diagnosis.usd is not None and diagnosis.usd != (0.0, 0.0):
        said += f", {_usd(diagnosis.usd[1] - diagnosis.usd[0])}"
    return said


def diagnosis_lines(comparison: Comparison, bullet: str) -> list[str]:
    """The report's diagnoses in both runs, the largest change first (none when neither run has one)."""
    if not comparison.diagnoses:
        return []
    found = ["Diagnoses (as the report gives them, per request; the largest change first):"]
    return found + [f"{bullet}{diagnosis_text(diagnosis)}" for diagnosis in comparison.diagnoses]


def _lines(comparison: Comparison, bullet: str) -> list[str]:
    if not comparison.roots:
        found = ["No root (request kind and name) is in both runs: nothing to compare."]
    else:
        found = [lead(root) for root in comparison.roots]
    if comparison.diagnoses and comparison.diagnoses[0].delta:
        found.append(f"Largest change in a diagnosis: {diagnosis_text(comparison.diagnoses[0])}")
    found.append(f"{comparison.base} → {comparison.new}")
    for root in comparison.roots:
        found += ["", *_root_lines(root, bullet)]
    found += ["", *count_lines(comparison, bullet)]
    if diagnosed := diagnosis_lines(comparison, bullet):
        found += ["", *diagnosed]
    if comparison.notes:
        found += ["", *(f"Note: {note}" for note in comparison.notes)]
    return found


def render_table(comparison: Comparison) -> str:
    return "\n".join(_lines(comparison, "  "))


def render_markdown(comparison: Comparison) -> str:
    return "\n".join(_lines(comparison, "- "))


def _cause_json(root: Root, cause: Cause) -> dict[str, object]:
    return {
        "kind": cause.kind,
        "name": cause.name,
        "base_seconds": cause.base,
        "new_seconds": cause.new,
        "delta_seconds": cause.delta,
        "share_percent": root.share(cause),
        "delta_usd": cause.usd,
        "parts": [{"what": p.what, "formula": p.formula, "seconds": p.seconds} for p in cause.parts],
        "parts_residual_seconds": cause.residual if cause.parts else None,
    }


def as_dict(comparison: Comparison) -> dict[str, Any]:
    """The comparison as :func:`render_json` writes it (and the HTML report embeds it): seconds and dollars."""
    roots = []
    for root in comparison.roots:
        verdict = root.verdict
        roots.append(
            {
                "kind": root.kind,
                "name": root.name,
                "lead": lead(root),
                "count": [round(root.base.calls), round(root.new.calls)],
                "p50_seconds": [root.base.quantiles.get("p50"), root.new.quantiles.get("p50")],
                "p95_seconds": [root.base.quantiles.get("p95"), root.new.quantiles.get("p95")],
                "mean_seconds": [root.base.mean_seconds, root.new.mean_seconds],
                "delta_mean_seconds": root.delta,
                "causes": [_cause_json(root, cause) for cause in root.causes],
                "residual_seconds": root.residual,
                "test": {
                    "name": verdict.test,
                    "p": verdict.p,
                    "alpha": verdict.alpha,
                    "significant": verdict.significant,
                },
            }
        )
    report = {
        "base": comparison.base,
        "new": comparison.new,
        "roots": roots,
        "requests": list(comparison.requests),
        "per_request": [
            {
                "name": c.name,
                "unit": c.unit,
                "base": c.base,
                "new": c.new,
                "delta": c.delta,
                "exact": c.exact,
                "changed": c.changed if c.exact else None,
            }
            for c in comparison.counts
        ],
        "cost_by_model": [
            {
                "name": c.name,
                "calls": list(c.calls),
                "usd_per_call": list(c.usd_per_call),
                "tokens_per_call": list(c.tokens_per_call),
                "from_calls_usd": c.from_calls,
                "from_per_call_usd": c.from_per_call,
                "delta_usd": c.delta,
            }
            for c in comparison.costs
        ],
        "diagnoses": [
            {
                "what": d.what,
                "kind": d.kind,
                "name": d.name,
                "place": d.place or None,
                "per": d.per,
                "seconds": list(d.seconds),
                "delta_seconds": d.delta,
                "tokens": None if d.tokens is None else list(d.tokens),
                "usd": None if d.usd is None else list(d.usd),
                "line": diagnosis_text(d),
            }
            for d in comparison.diagnoses
        ],
        "notes": comparison.notes,
    }
    return report


def render_json(comparison: Comparison) -> str:
    return json.dumps(as_dict(comparison), indent=2, ensure_ascii=False)


RENDERERS = {"table": render_table, "markdown": render_markdown, "json": render_json}
