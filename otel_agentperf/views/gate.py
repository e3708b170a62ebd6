"""The CI gate: a run's figures judged against budgets and a baseline with allowed regressions.

``otel-agentperf check`` (and ``run --budgets/--baseline``) exits with :data:`BROKEN` when any budget is
broken: a status of its own, distinct from 1 and 2 (the commands' errors and unusable input) so that CI
can tell "slower than allowed" from "could not check".
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from otel_agentperf.views import budgets, figures, sources
from otel_agentperf.views.budgets import BudgetError, Budgets
from otel_agentperf.views.figures import Figure, Measure
from otel_agentperf.views.rows import ReportError
from otel_agentperf.views.sources import Source

BROKEN = 3  # some budget is broken (every one is named)
UNUSABLE = 2  # the input, the budgets or the baseline cannot be used (one line says why)


class GateError(Exception):
    """Budgets, a baseline or a run that cannot be checked; the message says why, in one line."""


@dataclass(frozen=True)
class Check:
    """One figure of one subject against its limit: from a budget, or a baseline plus its allowance."""

    subject: str
    figure: Figure
    limit: float
    measured: Measure
    basis: str  # "budget", or "baseline 80.2 ms +20%"

    @property
    def broken(self) -> bool:
        """Over the limit, or unknown (a figure that cannot be measured cannot be shown to hold)."""
        value = self.measured.value
        return value is None or self.figure.rounded(value) > self.figure.rounded(self.limit)

    @property
    def over(self) -> float | None:
        """By how much the figure exceeds its limit, in its unit (None when unknown)."""
        value = self.measured.value
        return None if value is None else self.figure.rounded(value) - self.figure.rounded(self.limit)

    def measured_text(self) -> str:
        value = self.measured.value
        return f"unknown: {self.measured.why}" if value is None else self.figure.text(value)

    def over_text(self) -> str:
        """``+12.3 ms (+15.4%)`` over the limit, ``-`` for one that holds or is unknown."""
        over = self.over
        if over is None or not self.broken:
            return "-"
        share = f" (+{100 * over / self.limit:.1f}%)" if self.limit > 0 else ""
        return f"+{self.figure.text(over)}{share}"


@dataclass(frozen=True)
class Gate:
    """What a run is judged by: budgets, and a baseline's figures with the allowances that apply to them."""

    budgets: Budgets
    baseline: dict[str, dict[str, Measure]] | None = None
    baseline_label: str = ""

    def judge(self, source: Source) -> list[Check]:
        """Every check, each budget and allowance against the run's figures: broken ones first."""
        measured = figures.measure(source)
        found = [*self._limits(measured), *self._baseline(measured)]
        return sorted(found, key=lambda check: not check.broken)

    def _limits(self, measured: dict[str, dict[str, Measure]]) -> list[Check]:
        found = []
        for limit in self.budgets.limits:
            # A pattern's budget applies to the subjects that have the figure ("* *" p95_ms: not to code rows).
            matched = [s for s in measured if limit.matches(s) and limit.figure.name in measured[s]]
            if not matched:  # a renamed or mistyped operation must not pass unseen
                absent = Measure(None, "not in this run (its rows: otel-agentperf report)")
                found.append(Check(limit.subject, limit.figure, limit.value, absent, "budget"))
            for subject in matched:
                found.append(Check(subject, limit.figure, limit.value, measured[subject][limit.figure.name], "budget"))
        return found

    def _baseline(self, measured: dict[str, dict[str, Measure]]) -> list[Check]:
        """Each figure an allowance names, for every subject of the run the baseline measured too. A
        subject new since the baseline is held to 0 for what is summed over the run if it is an operation
        (``calls +0`` stops a new LLM call; code rows come and go with the loop monitor's threshold, and a
        report's JSON keeps only the significant ones); a figure the baseline could not measure has no
        limit to check."""
        if self.baseline is None:
            return []
        found = []
        for subject, figures_now in measured.items():
            before = self.baseline.get(subject)
            for name, allowance in self.budgets.allowances_for(subject).items():
                if name not in figures_now:
                    continue
                if before is not None:
                    base = before.get(name, Measure(None))
                elif allowance.figure.summed and figures.is_operation(subject):
                    base = Measure(0.0, note="new since the baseline")
                else:
                    continue
                if base.value is None:
                    continue
                limit = allowance.limit(base.value)
                basis = f"baseline {allowance.figure.text(base.value)} {allowance.text}"
                if base.note:
                    basis += f" ({base.note})"
                found.append(Check(subject, allowance.figure, limit, figures_now[name], basis))
        return found


def status(checks: list[Check], source: Source) -> int:
    """The gate's exit status: :data:`BROKEN` if any check is broken, else 0; :class:`GateError` when there
    was nothing to judge (a run without our metrics, or a baseline sharing no subject with it), which must
    not pass as a run within budget."""
    if not source.rows:
        raise GateError(f"{source.label}: no otel-agentperf metrics to check (is the app instrumented?)")
    if not checks:
        raise GateError(f"nothing to check: no subject of {source.label} is in the baseline with an allowance")
    return BROKEN if any(check.broken for check in checks) else 0


def load(budgets_path: Path | None, baseline_path: Path | None, start: Path) -> Gate:
    """The gate for the given files (budgets by default from the nearest pyproject.toml above ``start``)."""
    try:
        found = budgets.load(budgets_path, start)
    except BudgetError as exc:
        raise GateError(str(exc)) from exc
    if found is None:
        if baseline_path is None:
            where = budgets_path or "the nearest pyproject.toml"
            raise GateError(
                f"no budgets to check: {where} has no [tool.otel-agentperf.budgets] table; "
                "give one (--budgets FILE) or a baseline (--baseline FILE) with allowances"
            )
        found = Budgets("")
    if baseline_path is None:
        if not found.limits:
            raise GateError(
                f"no budgets to check in {found.source}: it sets no limits (allowances need --baseline FILE)"
            )
        return Gate(found)
    if not found.allowances and not found.subject_allowances:
        raise GateError(
            f'a baseline needs allowances: add [tool.otel-agentperf.budgets.allow] (p95_ms = "+20%") '
            f"to {found.source or 'pyproject.toml, or give --budgets FILE'}"
        )
    try:
        baseline = sources.from_file(baseline_path)
    except ReportError as exc:
        raise GateError(f"baseline: {exc}") from exc
    if not baseline.rows:
        raise GateError(f"baseline {baseline_path}: no otel-agentperf metrics in it")
    return Gate(found, figures.measure(baseline), str(baseline_path))
