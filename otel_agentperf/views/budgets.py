"""Performance budgets: the ``[tool.otel-agentperf.budgets]`` table (or a file of its own) as limits.

The table's keys are subjects, ``"KIND NAME"`` as the report names a row (``"tool search_flights"``; the
name may be a shell-style pattern: ``"tool *"`` is every tool), each a table of figure limits (see
``figures.py``: ``p95_ms = 800``), plus ``allow``: how far each figure may exceed a baseline, for every
subject (``p95_ms = "+20%"``) or for one (``"llm openai/gpt-4o-mini" = { calls = "+0" }``). An allowance is
``"+N%"`` of the baseline's figure or ``"+N"`` in the figure's own unit. Every limit is an upper one: a
figure holds when it is at most its limit.

A table that cannot be used is refused whole with one :class:`BudgetError` naming the key: a gate that
skipped a mistyped budget would pass what it was written to stop.
"""

from __future__ import annotations

import fnmatch
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from otel_agentperf.runtime import settings
from otel_agentperf.views import figures
from otel_agentperf.views.figures import Figure

ALLOW = "allow"
_ALLOWANCE = re.compile(r"\+\s*(\d+(?:\.\d*)?|\.\d+)\s*(%?)")
_EXAMPLE = '"tool search_flights"'


class BudgetError(Exception):
    """A budgets table or file that cannot be used; the message names the key and says why."""


@dataclass(frozen=True)
class Limit:
    """At most ``value`` (in the figure's unit) for the figure of every subject ``subject`` matches."""

    subject: str
    figure: Figure
    value: float

    def matches(self, name: str) -> bool:
        return name == self.subject or fnmatch.fnmatchcase(name, self.subject)


@dataclass(frozen=True)
class Allowance:
    """How far a figure may exceed its baseline: ``percent`` of it, or ``amount`` in the figure's unit."""

    figure: Figure
    text: str  # as written: "+20%", "+0"
    percent: float | None = None
    amount: float | None = None

    def limit(self, baseline: float) -> float:
        if self.percent is not None:
            return baseline * (1 + self.percent / 100)
        return baseline + (self.amount or 0.0)


@dataclass(frozen=True)
class Budgets:
    """The limits and allowances of one table, and where it was read."""

    source: str
    limits: tuple[Limit, ...] = ()
    allowances: dict[str, Allowance] = field(default_factory=dict)  # for every subject, by figure
    subject_allowances: dict[str, dict[str, Allowance]] = field(default_factory=dict)  # by subject pattern

    def allowances_for(self, subject: str) -> dict[str, Allowance]:
        """The allowances that apply to a subject: those for all, then those naming it (which win)."""
        found = dict(self.allowances)
        for pattern, allowed in self.subject_allowances.items():
            if subject == pattern or fnmatch.fnmatchcase(subject, pattern):
                found.update(allowed)
        return found


def _where(*keys: str) -> str:
    return ".".join(["budgets", *(f'"{key}"' if not re.fullmatch(r"[A-Za-z0-9_-]+", key) else key for key in keys)])


def _kind_figures(subject: str, where: str) -> dict[str, Figure]:
    """The figures a subject key may limit; its kind must be one a source has (or a pattern)."""
    kind, _, name = subject.partition(" ")
    if not name.strip() or not kind:
        raise BudgetError(f'{where}: a subject is "KIND NAME", as the report names a row (e.g. {_EXAMPLE})')
    if any(char in kind for char in "*?["):
        return figures.all_figures()
    found = figures.catalogue(kind)
    if found is None:
        kinds = ", ".join(figures.KINDS)
        raise BudgetError(f"{where}: unknown kind {kind!r} (one of: {kinds})")
    return found


def _figure(name: str, known: dict[str, Figure], where: str) -> Figure:
    if name not in known:
        raise BudgetError(f"{where}: unknown figure {name!r} (one of: {', '.join(known)})")
    return known[name]


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise BudgetError(f"{where}: a limit is a number of 0 or more, in the figure's unit (got {value!r})")
    return float(value)


def _allowance(value: Any, figure: Figure, where: str) -> Allowance:
    text = value if isinstance(value, str) else ""
    unit = f"in {figure.unit}" if figure.unit else "a count"
    match = _ALLOWANCE.fullmatch(text.strip())
    if match is None:
        raise BudgetError(f'{where}: an allowance is "+N%" (of the baseline) or "+N" ({unit}), got {value!r}')
    number = float(match.group(1))
    if match.group(2):
        return Allowance(figure, text.strip(), percent=number)
    return Allowance(figure, text.strip(), amount=number)


def _allowances(table: Any) -> tuple[dict[str, Allowance], dict[str, dict[str, Allowance]]]:
    if not isinstance(table, dict):
        raise BudgetError(f'{_where(ALLOW)}: a table of allowances (p95_ms = "+20%")')
    every: dict[str, Allowance] = {}
    per_subject: dict[str, dict[str, Allowance]] = {}
    for key, value in table.items():
        if isinstance(value, dict):  # one subject's own allowances
            known = _kind_figures(key, _where(ALLOW, key))
            per_subject[key] = {
                name: _allowance(text, _figure(name, known, _where(ALLOW, key, name)), _where(ALLOW, key, name))
                for name, text in value.items()
            }
        else:
            figure = _figure(key, figures.all_figures(), _where(ALLOW, key))
            every[key] = _allowance(value, figure, _where(ALLOW, key))
    return every, per_subject


def parse(table: Any, source: str) -> Budgets:
    """The budgets of a table as TOML gives it; :class:`BudgetError` naming the first key that is wrong."""
    if not isinstance(table, dict):
        raise BudgetError(f"budgets in {source}: not a table")
    limits: list[Limit] = []
    every: dict[str, Allowance] = {}
    per_subject: dict[str, dict[str, Allowance]] = {}
    try:
        for key, value in table.items():
            if key == ALLOW:
                every, per_subject = _allowances(value)
                continue
            known = _kind_figures(key, _where(key))
            if not isinstance(value, dict):
                raise BudgetError(f"{_where(key)}: a subject's budgets are a table of limits (p95_ms = 800)")
            for name, limit in value.items():
                figure = _figure(name, known, _where(key, name))
                limits.append(Limit(key, figure, _number(limit, _where(key, name))))
    except BudgetError as exc:
        raise BudgetError(f"{exc} in {source}") from None
    return Budgets(source, tuple(limits), every, per_subject)


def _table(data: dict[str, Any]) -> Any:
    """A file's budgets: its ``[tool.otel-agentperf.budgets]`` table if it has one (a pyproject.toml), else
    the whole file (a file of budgets alone)."""
    tool = data.get("tool")
    ours = tool.get(settings.PYPROJECT_TABLE) if isinstance(tool, dict) else None
    if isinstance(ours, dict) and "budgets" in ours:
        return ours["budgets"]
    return data


def load(path: Path | None, start: Path) -> Budgets | None:
    """The budgets of ``path``, else of the nearest pyproject.toml above ``start`` that has the table (None
    when there is none: a baseline alone may still be checked)."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # Python 3.10
        import tomli as tomllib  # type: ignore[import-not-found,no-redef,unused-ignore]

    if path is None:
        nearest = settings.nearest_pyproject(start)
        if nearest is None:
            return None
        path = nearest
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except OSError as exc:
        raise BudgetError(f"cannot read {path}: {exc.strerror or exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise BudgetError(f"{path}: not TOML ({exc})") from exc
    table = _table(data)
    if table is data and path.name == "pyproject.toml":
        return None  # a project's file without budgets has none, not its whole self as budgets
    return parse(table, str(path))
