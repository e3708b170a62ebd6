"""``otel-agentperf compare`` (issue #27, parts 2 and 3) on real runs: the planted-regression pairs, a pair
with no change, and the statistical test on hand-computed values.

Every case's v1 and v2 come from the session's ``regression_pair`` (``tests/regression_runs.py``: made once,
shared with ``test_regressions.py``). ``compare`` must name the planted cause first, with its change in
seconds (and dollars) within ±25% of what the app measured: the change in mean request latency, or the time
the planted code itself took longer per request. The two differ with requests in flight together: a tool
holding the loop delays every request beside it (2.3 s of latency for 0.3 s held), while a longer prompt's
extra 0.37 s per call overlaps other requests' work (0.28 s of latency); the cause's change on the critical
path lies near one or the other, and near neither would be a wrong explanation. The planted
operation of each case is test data, named here from what each app's v2 changes (``test_regressions.py``);
``compare`` knows nothing of it.
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from otel_agentperf.views import stats
from tests import invariants
from tests.doc_blocks import block, commands
from tests.regression_runs import CASES, CLI, REQUESTS, TOLERANCE, Pair, same_version_twice

pytestmark = pytest.mark.repeat(1)  # the runs are the session's; each test here only reads them

# What each case's v2 changes, as ``compare`` names an operation (``old → new`` for one replaced by another).
PLANTED = {
    "extra-llm-call": ("llm", "openai/slow-250-answer-pro"),
    "growing-prompt": ("llm", "openai/prefill-1000-long-60-tutor-large"),
    "blocking-tool": ("tool", "geocode"),
    "slow-first-token": ("llm", "openai/writer-large → openai/ttft-400-writer-xl"),
    "rate-limited-model": ("llm", "openai/scorer-pro → openai/throttle-2-150-scorer-pro"),
    "serialized-calls": ("llm", "openai/slow-250-web-researcher"),
}


def _compare(base: Path, new: Path, form: str = "json") -> str:
    done = subprocess.run([CLI, "compare", str(base), str(new), "--format", form], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    return done.stdout


def _main_root(report: dict[str, Any]) -> dict[str, Any]:
    """The root that serves the app's requests (an app may also run an agent once outside them)."""
    return max(report["roots"], key=lambda root: root["count"][1])


def _checked(base: Path, new: Path) -> dict[str, Any]:
    """The comparison as JSON, every format of it checked against the invariants."""
    report = json.loads(_compare(base, new))
    invariants.check_compare_json(report)
    for form in ("table", "markdown"):
        invariants.check_compare_text(_compare(base, new, form))
    return report


@pytest.mark.parametrize("concurrency", sorted(REQUESTS))
@pytest.mark.parametrize("name", list(CASES))
def test_compare_names_the_planted_cause_first_with_its_cost(
    name: str, concurrency: int, regression_pair: Callable[[str, int], Pair]
) -> None:
    base, new, measured = regression_pair(name, concurrency)
    report = _checked(base, new)
    root = _main_root(report)
    cause = root["causes"][0]
    print(name, concurrency, measured, root["lead"])
    assert (cause["kind"], cause["name"]) == PLANTED[name], root["lead"]
    near = [value for value in (measured.latency_seconds, measured.planted_seconds) if value > 0]
    assert any(abs(cause["delta_seconds"] - value) <= TOLERANCE * value for value in near), (root["lead"], measured)
    assert root["test"]["significant"] is True, root["test"]
    if CASES[name].costs_tokens:
        assert abs(cause["delta_usd"] - measured.usd) <= TOLERANCE * measured.usd, (cause, measured)
    table = _compare(base, new, "table")
    kind, operation = PLANTED[name]
    assert f"largest cause: {kind} `{operation}` +" in table.splitlines()[0]


@pytest.fixture(scope="module")
def unchanged(server: Any, tmp_path_factory: pytest.TempPathFactory) -> Pair:
    return same_version_twice("extra-llm-call", 1, server, tmp_path_factory.mktemp("unchanged"))


def test_a_pair_with_no_change_shows_no_significant_timing_change_and_no_count_change(unchanged: Pair) -> None:
    report = _checked(unchanged.base, unchanged.new)
    root = _main_root(report)
    assert root["test"]["significant"] is False, root["lead"]
    assert "within noise (p = " in root["lead"]
    changed = [count["name"] for count in report["per_request"] if count["exact"] and count["changed"]]
    assert changed == [], report["per_request"]


def test_report_json_inputs_compare_without_a_test_and_say_so(
    regression_pair: Callable[[str, int], Pair], tmp_path: Path
) -> None:
    base, new, _ = regression_pair("extra-llm-call", 1)
    files = []
    for saved in (base, new):
        done = subprocess.run([CLI, "report", "--file", str(saved), "--format", "json"], capture_output=True, text=True)
        files.append(tmp_path / f"{saved.stem}.json")
        files[-1].write_text(done.stdout)
    report = _checked(files[0], files[1])
    root = _main_root(report)
    assert (root["causes"][0]["kind"], root["causes"][0]["name"]) == PLANTED["extra-llm-call"]
    assert root["test"]["p"] is None
    assert any("no per-request samples" in note for note in report["notes"])
    assert "not tested: a report JSON has no per-request samples" in _compare(files[0], files[1], "table")


def test_unusable_input_exits_2_with_one_line(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.otlp"
    garbage.write_bytes(b"otel-agentperf saved run 1\ntraces 5\nxxxxx\n")
    done = subprocess.run([CLI, "compare", str(garbage), str(tmp_path / "missing")], capture_output=True, text=True)
    assert done.returncode == 2
    assert done.stdout == ""
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr


def test_the_docs_commands_run_and_name_the_cause(regression_pair: Callable[[str, int], Pair], tmp_path: Path) -> None:
    base, new, _ = regression_pair("extra-llm-call", 1)
    shutil.copy(base, tmp_path / "v1.otlp")
    shutil.copy(new, tmp_path / "v2.otlp")
    bin_folder = str(Path(CLI).parent)
    for line in commands(block("compare-commands").text):
        done = subprocess.run(
            line, shell=True, cwd=tmp_path, capture_output=True, text=True, env={"PATH": bin_folder + ":/usr/bin:/bin"}
        )
        assert done.returncode == 0, (line, done.stderr)
    comment = (tmp_path / "comparison.md").read_text()
    invariants.check_compare_text(comment)
    assert "largest cause: llm `openai/slow-250-answer-pro`" in comment.splitlines()[0]
    as_json = json.loads((tmp_path / "comparison.json").read_text())
    invariants.check_compare_json(as_json)
    page = (tmp_path / "comparison.html").read_text()  # tests/test_html_report.py opens one in a browser
    assert page.startswith("<!doctype html>")
    lead = json.dumps(as_json["roots"][0]["lead"], ensure_ascii=False)
    escaped = lead.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    assert '"lead":' + escaped in page  # the JSON's own lead, escaped for a script element


def test_mann_whitney_matches_hand_computed_values() -> None:
    # No ties: ranks 1-3 against 4-6, U₁ = 6 - 6 = 0, μ = 4.5, σ² = 9 x 7 / 12 = 5.25,
    # z = (4.5 - 0.5) / √5.25 = 1.7457, p = erfc(1.7457 / √2) = 0.080856.
    found = stats.mann_whitney([1.0, 2.0, 3.0], [4.0, 5.0, 6.0])
    assert found is not None
    assert (found.u, found.sizes) == (0.0, (3, 3))
    assert math.isclose(found.z, -1.745743, abs_tol=1e-6) and math.isclose(found.p, 0.080856, abs_tol=1e-6)
    # Three tied 2s share rank 3: R₁ = 1 + 3 + 3 = 7, U₁ = 1; Σ(t³ - t) = 24,
    # σ² = 9/12 x (7 - 24/30) = 4.65, z = (3.5 - 0.5) / √4.65 = 1.391217, p = 0.164160.
    tied = stats.mann_whitney([1.0, 2.0, 2.0], [2.0, 3.0, 4.0])
    assert tied is not None and tied.u == 1.0
    assert math.isclose(tied.z, -1.391217, abs_tol=1e-6) and math.isclose(tied.p, 0.164160, abs_tol=1e-6)
    # The other way round: U₂ = n₁n₂ - U₁, the same p.
    swapped = stats.mann_whitney([4.0, 5.0, 6.0], [1.0, 2.0, 3.0])
    assert swapped is not None and swapped.u == 9.0 and math.isclose(swapped.p, found.p)
    # All equal: nothing to rank apart; an empty sample: no test.
    same = stats.mann_whitney([5.0, 5.0], [5.0, 5.0])
    assert same is not None and same.p == 1.0
    assert stats.mann_whitney([], [1.0]) is None
