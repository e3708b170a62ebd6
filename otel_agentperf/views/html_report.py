"""The report, or a comparison, as one self-contained HTML file: to open offline, keep with a build or attach
to a pull request.

Every figure comes from the data the JSON output is made of (``report.as_dict``, ``compare_output.as_dict``)
with its text as the terminal prints it (``report.cells``, ``requests.part_text``, ``rows.ms``): the page's
script places them and scales bars, it computes no figure. The data is embedded as JSON in a
``<script type="application/json">`` block with every ``<``, ``>`` and ``&`` escaped, so no span name or
attribute can close the block or start markup; the script only ever sets ``textContent``. CSS and script
are the package's ``data/report.css`` and ``data/report.js``, inlined: the file asks nothing of the network.
"""

from __future__ import annotations

import html
import json
from importlib import resources
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from otel_agentperf.views import compare_output, html_traces, report, requests
from otel_agentperf.views.compare import Comparison
from otel_agentperf.views.insights import cold_start, own_cost_line, where_time_goes
from otel_agentperf.views.rows import QUANTILES, Row, cost_text, ms, spent

TRACES = 5  # slowest traces drawn by ``report --format html`` (``run --html`` draws ``--slowest``)
CHART_OPERATIONS = 15  # operations in the "where the time goes" chart; the table has them all


def _asset(name: str) -> str:
    return resources.files("otel_agentperf").joinpath(f"data/{name}").read_text(encoding="utf-8")


def _embedded(data: object) -> str:
    """JSON safe inside a script element: ``<``, ``>`` and ``&`` appear only in strings, escaped there."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def page(title: str, view: str, data: dict[str, Any]) -> str:
    """The whole file: a view (``run`` or ``compare``) the script draws from ``data``."""
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; \
script-src 'unsafe-inline'; img-src data:">
<meta name="color-scheme" content="light dark">
<title>{html.escape(title)}</title>
<style>{_asset("report.css")}</style>
</head>
<body data-view="{view}">
<header><h1>{html.escape(title)}</h1></header>
<main id="report"><noscript>This report draws its charts with JavaScript.</noscript></main>
<script type="application/json" id="agentperf-data">{_embedded(data)}</script>
<script>{_asset("report.js")}</script>
</body>
</html>
"""


def run_data(
    rows: list[Row],
    bottlenecks: list[str],
    traces: list[ExportTraceServiceRequest] | None,
    slowest: int,
    seen: int | None = None,
) -> dict[str, Any]:
    """What the run view draws: the JSON report, the table's cells, and (for a run) its slowest traces
    (``seen``: how many traces there were, when ``traces`` holds only those ``run`` kept)."""
    figures = report.as_dict(rows, bottlenecks)
    operations = report.operations(rows)
    table_rows = []
    for row, item in zip(operations, figures["operations"], strict=True):
        own = item["own_seconds"] if item["self_known"] else None
        quantiles = [item["quantiles"].get(f"p{round(q * 100)}") for q in QUANTILES]
        values = [row.kind, row.name, item["calls"], item["errors"], own]
        values += [item["self_seconds"] if item["self_known"] else None, item["total_seconds"]]
        values += [item["mean_seconds"], *quantiles, report.notes(row)]
        table_rows.append({"cells": list(report.cells(row)), "values": values})
    summary = []
    for request, item in zip(requests.requests(rows), figures["requests"], strict=True):
        summary.append(
            {
                "figures": item,
                "text": {
                    "count": f"{request.row.calls:g}",
                    "p50": request.row.quantile_text("p50"),
                    "p95": request.row.quantile_text("p95"),
                    "mean": ms(request.row.mean_seconds),
                },
                "parts": [requests.part_text(part) for part in request.parts],
            }
        )
    spending = [
        {
            "kind": row.kind,
            "name": row.name,
            "tokens": item["tokens"],
            "tokens_text": f"{row.input_tokens:g} in + {row.output_tokens:g} out",
            "cost_usd": item["cost_usd"],
            "cost_text": cost_text(row) if row.cost_usd or row.unpriced else "",
        }
        for row, item in zip(operations, figures["operations"], strict=True)
        if row.tokens or row.cost_usd or row.unpriced
    ]
    used = spent(rows)
    run_spent = {
        "figures": figures["spent"],
        "total_text": f"{figures['spent']['tokens']}",  # a whole number: never 1.2e+06
        "tokens_text": f"{figures['spent']['input_tokens']} in + {figures['spent']['output_tokens']} out",
        "cost_text": cost_text(used) or "$0.00",
    }
    blocking = [
        {"label": code["name"], "seconds": code["blocked_seconds"], "text": f"{ms(code['blocked_seconds'])} ms"}
        for code in figures["code_outside_operations"]
    ]
    sites = {} if traces is None else html_traces.blocking_sites(traces)
    for row in operations:
        if row.blocked_seconds:
            label = f"{row.kind} {row.name}"
            found = sites.get(label, html_traces.Sites(sites=[], texts=[], stacks=[], left_out=0))
            left_out = [f"{found['left_out']} more sites left out"] if found["left_out"] else []
            blocking.append(
                {
                    "label": label,
                    "seconds": row.blocked_seconds,
                    "text": f"{ms(row.blocked_seconds)} ms",
                    "sites": found["sites"],
                    "parts": found["texts"] + left_out,
                    "stacks": found["stacks"],
                }
            )
    retried = [
        {
            "label": f"{row.kind} {row.name}",
            "text": report.notes(row),
            "retries": item["retries"],
            "reasons": item["retry_reasons"],
        }
        for row, item in zip(operations, figures["operations"], strict=True)
        if row.retries
    ]
    return {
        "report": figures,
        "table": {"header": list(report.HEADER), "order": report.order(rows), "rows": table_rows},
        "requests": summary,
        "spending": spending,
        "spent": run_spent,
        "by_kind": [
            {"label": kind, "seconds": seconds, "text": f"{ms(seconds)} ms"}
            for kind, seconds in figures["own_seconds_by_kind"].items()
        ],
        "by_operation": [
            {"label": f"{row.kind} {row.name}", "seconds": row.own_seconds, "text": f"{ms(row.own_seconds)} ms"}
            for row in operations[:CHART_OPERATIONS]
            if row.self_known
        ],
        "by_operation_left_out": max(len(operations) - CHART_OPERATIONS, 0),
        "sentences": [line for line in (where_time_goes(rows), cold_start(rows), own_cost_line(rows)) if line],
        "blocking": sorted(blocking, key=lambda found: -float(found["seconds"])),
        "retried": retried,
        "retry_timeline": None if traces is None else html_traces.retries(traces),
        "traces": None if traces is None or slowest == 0 else html_traces.slowest_traces(traces, slowest, seen),
    }


def render(
    rows: list[Row],
    bottlenecks: list[str],
    traces: list[ExportTraceServiceRequest] | None = None,
    slowest: int = TRACES,
    title: str = "otel-agentperf report",
    seen: int | None = None,
) -> str:
    """The report as one HTML file; with the run's trace requests, its slowest traces and retries too
    (``seen``: how many traces there were, when the requests hold only the traces kept)."""
    return page(title, "run", run_data(rows, bottlenecks, traces, slowest, seen))


def render_compare(comparison: Comparison) -> str:
    """A comparison as one HTML file: per root its change, the causes as Δ bars, then the per-request counts."""
    figures = compare_output.as_dict(comparison)
    roots = []
    for root, item in zip(comparison.roots, figures["roots"], strict=True):
        base, new = root.base, root.new
        latency = []
        for key in ("p50", "p95"):
            old, now = base.quantiles.get(key), new.quantiles.get(key)
            if old is not None and now is not None:
                latency.append(f"{key}: {ms(old)} → {ms(now)} ms ({compare_output.delta_ms(now - old)})")
        latency.append(
            f"mean: {ms(base.mean_seconds or 0)} → {ms(new.mean_seconds or 0)} ms "
            f"({compare_output.delta_ms(root.delta)}), {base.calls:g} → {new.calls:g} requests"
        )
        causes = [
            {
                "label": f"{cause.kind} {cause.name}",
                "seconds": cause.delta,
                "text": compare_output.cause_figures(root, cause),
                "parts": compare_output.part_lines(cause),
            }
            for cause in root.causes
        ]
        causes.append(
            {"label": "residual", "seconds": root.residual, "text": compare_output.delta_ms(root.residual), "parts": []}
        )
        roots.append(
            {
                "figures": item,
                "title": f"{root.kind} {root.name}",
                "verdict": compare_output.verdict_text(root),
                "latency": latency,
                "causes": causes,
            }
        )
    data = {
        "comparison": figures,
        "leads": [compare_output.lead(root) for root in comparison.roots],
        "roots": roots,
        "counts": [{"heading": heading, "lines": lines} for heading, lines in compare_output.count_groups(comparison)],
        "diagnoses": [compare_output.diagnosis_text(diagnosis) for diagnosis in comparison.diagnoses],
    }
    return page(f"otel-agentperf compare: {comparison.base} → {comparison.new}", "compare", data)
