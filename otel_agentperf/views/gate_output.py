"""The gate's verdict as text: a table for the terminal, Markdown for a pull-request comment, JSON, and a
JUnit XML test report (one test case per budget, a failure for each broken one) for CI test views."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

from otel_agentperf.views.gate import Check

HEADER = ("", "subject", "figure", "measured", "limit", "over by", "from")


def headline(checks: list[Check]) -> str:
    """One line: how many budgets were checked and how many are broken."""
    broken = sum(check.broken for check in checks)
    budgets = f"{len(checks)} budget{'' if len(checks) == 1 else 's'}"
    if broken:
        return f"otel-agentperf check: {broken} of {budgets} broken"
    return f"otel-agentperf check: all {budgets} hold"


def _cells(check: Check) -> tuple[str, ...]:
    return (
        "BROKEN" if check.broken else "ok",
        check.subject,
        check.figure.name,
        check.measured_text(),
        check.figure.text(check.limit),
        check.over_text(),
        check.basis,
    )


def _notes(checks: list[Check]) -> list[str]:
    return [f"- {check.subject} {check.figure.name}: {check.measured.note}" for check in checks if check.measured.note]


def render_table(checks: list[Check]) -> str:
    """Every check, broken ones first, aligned for the terminal."""
    lines = [HEADER, *(_cells(check) for check in checks)]
    widths = [max(len(line[i]) for line in lines) for i in range(len(HEADER))]
    rendered = [headline(checks), ""]
    for line in lines:
        rendered.append("  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip())
    if notes := _notes(checks):
        rendered += ["", *notes]
    return "\n".join(rendered)


def _markdown_rows(checks: list[Check]) -> list[str]:
    header = ["| " + " | ".join(HEADER[1:]) + " |", "|" + "---|" * (len(HEADER) - 1)]
    return header + [
        "| " + " | ".join(cell.replace("|", "\\|") for cell in _cells(check)[1:]) + " |" for check in checks
    ]


def render_markdown(checks: list[Check]) -> str:
    """A pull-request comment: the verdict, the broken budgets in a table, the ones that hold folded."""
    broken = [check for check in checks if check.broken]
    holding = [check for check in checks if not check.broken]
    lines = [f"### {headline(checks)}", ""]
    if broken:
        lines += ["**Broken budgets**", "", *_markdown_rows(broken), ""]
    if holding:
        lines += [
            "<details><summary>Budgets that hold</summary>",
            "",
            *_markdown_rows(holding),
            "",
            "</details>",
            "",
        ]
    if notes := _notes(checks):
        lines += [*notes, ""]
    return "\n".join(lines).rstrip()


def render_json(checks: list[Check]) -> str:
    """Machine-readable checks: values in each figure's unit, which is named."""
    found = [
        {
            "subject": check.subject,
            "figure": check.figure.name,
            "unit": check.figure.unit,
            "measured": check.measured.value,
            "unknown_why": check.measured.why or None,
            "limit": check.limit,
            "over": check.over if check.broken else None,
            "from": check.basis,
            "broken": check.broken,
        }
        for check in checks
    ]
    return json.dumps({"broken": sum(check.broken for check in checks), "checks": found}, indent=2)


def junit(checks: list[Check]) -> ET.ElementTree[ET.Element[str]]:
    """A JUnit XML report: one test suite, a test case per check (classname the subject), a failure each
    broken one."""
    failures = sum(check.broken for check in checks)
    suites = ET.Element("testsuites", name="otel-agentperf check", tests=str(len(checks)), failures=str(failures))
    suite = ET.SubElement(
        suites, "testsuite", name="otel-agentperf check", tests=str(len(checks)), failures=str(failures), errors="0"
    )
    for check in checks:
        case = ET.SubElement(
            suite, "testcase", classname=check.subject, name=f"{check.figure.name} <= {check.figure.text(check.limit)}"
        )
        if check.broken:
            limit = check.figure.text(check.limit)
            if check.measured.value is None:
                message = f"{check.figure.name} {check.measured_text()}; limit {limit}"
            else:
                message = f"{check.figure.name} {check.measured_text()} > limit {limit}, over by {check.over_text()}"
            failure = ET.SubElement(case, "failure", message=message, type="budget broken")
            failure.text = f"{check.subject}: {message} (from {check.basis})"
    return ET.ElementTree(suites)


def write_junit(checks: list[Check], path: Path) -> None:
    """Write :func:`junit` to ``path`` (``OSError`` when it cannot be written)."""
    tree = junit(checks)
    ET.indent(tree)
    tree.write(path, encoding="utf-8", xml_declaration=True)


RENDERERS = {"table": render_table, "markdown": render_markdown, "json": render_json}
