"""``otel-agentperf check`` and ``run --budgets/--baseline``: the CI gate, on real runs of a real app.

The app (``tests/apps/gate_app.py``) runs four ``trip_planner`` requests, each a ``search_flights`` tool
call (a 10 ms await) and one chat call through the OpenAI SDK to the local server, whose canned answer is
nine words: four calls of each operation, nine output tokens per LLM call. What a budget is judged by is
checked against what ``report --format json`` printed for the same run, never against the gate's code.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
import yaml

from otel_agentperf.command import cli
from tests.doc_blocks import ROOT, block, commands

# Once, not twice, under `--count 2` (CI time, see scripts/test.sh): the runs are processes started afresh.
pytestmark = pytest.mark.repeat(1)

APPS = ROOT / "tests" / "apps"
BIN = Path(sys.executable).parent
CLI = str(BIN / "otel-agentperf")
ANSWER_WORDS = 9  # examples/local_llm.py's canned answer, counted as output tokens
REQUESTS = 4


def _env(server: Any) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("OTEL_", "COLUMNS", "LINES"))}
    env.update(PATH=f"{BIN}{os.pathsep}{env['PATH']}", OPENAI_BASE_URL=server.base_url, OPENAI_API_KEY="local")
    return env


def _bash(line: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """A line as a GitHub Actions ``run:`` step runs it (``bash -e``)."""
    return subprocess.run(["bash", "-e", "-c", line], cwd=cwd, env=env, capture_output=True, text=True, timeout=240)


class Run:
    """One real run of the app, saved, and the report's JSON of it."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.saved = folder / "run.otlp"
        self.json = folder / "report.json"
        self.report = json.loads(self.json.read_text())

    def operation(self, kind: str, name: str) -> dict[str, Any]:
        (found,) = [item for item in self.report["operations"] if (item["kind"], item["name"]) == (kind, name)]
        return found


@pytest.fixture(scope="module")
def run(server: Any, tmp_path_factory: pytest.TempPathFactory) -> Run:
    folder = tmp_path_factory.mktemp("gate")
    env = _env(server)
    ran = _bash(
        f"{CLI} run --save run.otlp --slowest 0 -- {sys.executable} {APPS / 'gate_app.py'} {REQUESTS}", folder, env
    )
    assert ran.returncode == 0, ran.stdout + ran.stderr
    reported = _bash(f"{CLI} report --file run.otlp --format json > report.json", folder, env)
    assert reported.returncode == 0, reported.stderr
    return Run(folder)


def _check(run: Run, budgets: str, *args: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """``check`` in this process (its status is what the command exits with): status, stdout, stderr."""
    path = run.folder / "budgets.toml"
    path.write_text(budgets)
    capsys.readouterr()
    status = cli.main(["check", "--file", str(run.saved), "--budgets", str(path), *args])
    out, err = capsys.readouterr()
    return status, out, err


def _markdown_table(text: str, title: str) -> list[dict[str, str]]:
    """The rows of the Markdown table under a bold title, by column."""
    lines = text.splitlines()
    start = lines.index(title) + 2
    header = [cell.strip() for cell in lines[start].strip("|").split("|")]
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        rows.append(dict(zip(header, (cell.strip() for cell in line.strip("|").split(" | ")), strict=True)))
    return rows


HOLDING = f"""
["tool search_flights"]
calls = {REQUESTS}
p95_ms = 10000

["llm openai/gpt-4o-mini"]
output_tokens_per_call = {ANSWER_WORDS}
cost_usd_per_call = 1
error_pct = 0

["agent *"]
calls = {REQUESTS}
"""


def test_budgets_that_hold_exit_0_and_say_so(run: Run, server: Any) -> None:
    (run.folder / "holding.toml").write_text(HOLDING)
    result = _bash(f"{CLI} check --file run.otlp --budgets holding.toml", run.folder, _env(server))
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("otel-agentperf check: all 6 budgets hold\n")
    assert result.stderr == ""


BREAKING = f"""
["tool search_flights"]
p95_ms = 5  # it awaits 10 ms a call
calls = {REQUESTS}

["llm openai/gpt-4o-mini"]
calls = {REQUESTS - 1}
output_tokens_per_call = {ANSWER_WORDS - 1}

["tool refund"]  # never called
calls = 1
"""


def test_broken_budgets_are_each_named_with_measured_limit_and_excess(run: Run, server: Any) -> None:
    (run.folder / "breaking.toml").write_text(BREAKING)
    result = _bash(
        f"{CLI} check --file run.otlp --budgets breaking.toml --format markdown --junit junit.xml",
        run.folder,
        _env(server),
    )
    assert result.returncode == 3, result.stdout + result.stderr  # the gate's own status: a budget broke
    assert result.stdout.startswith("### otel-agentperf check: 4 of 5 budgets broken\n")
    broken = {(row["subject"], row["figure"]): row for row in _markdown_table(result.stdout, "**Broken budgets**")}
    assert set(broken) == {
        ("tool search_flights", "p95_ms"),
        ("llm openai/gpt-4o-mini", "calls"),
        ("llm openai/gpt-4o-mini", "output_tokens_per_call"),
        ("tool refund", "calls"),
    }
    p95_ms = run.operation("tool", "search_flights")["quantiles"]["p95"] * 1000  # the report's own p95
    assert p95_ms >= 10
    row = broken[("tool search_flights", "p95_ms")]
    assert float(row["measured"].removesuffix(" ms")) == pytest.approx(p95_ms, abs=0.001)
    assert row["limit"] == "5 ms"
    over = row["over by"].split()  # "+6.12 ms (+122.4%)"
    assert float(over[0]) == pytest.approx(p95_ms - 5, abs=0.002)
    assert float(over[2].strip("(+%)")) == pytest.approx(100 * (p95_ms - 5) / 5, abs=0.1)
    assert (
        broken[("llm openai/gpt-4o-mini", "calls")]["measured"],
        broken[("llm openai/gpt-4o-mini", "calls")]["over by"],
    ) == (
        str(REQUESTS),
        "+1 (+33.3%)",
    )
    assert broken[("llm openai/gpt-4o-mini", "output_tokens_per_call")]["measured"] == f"{ANSWER_WORDS} tokens"
    assert broken[("tool refund", "calls")]["measured"].startswith("unknown: not in this run")
    holding = _markdown_table(result.stdout, "<details><summary>Budgets that hold</summary>")
    assert [(row["subject"], row["figure"], row["measured"]) for row in holding] == [
        ("tool search_flights", "calls", str(REQUESTS))
    ]

    suites = ET.parse(run.folder / "junit.xml").getroot()
    (suite,) = suites.iter("testsuite")
    assert (suites.tag, suite.get("tests"), suite.get("failures")) == ("testsuites", "5", "4")
    cases = {(case.get("classname"), case.get("name")): case.find("failure") for case in suite.iter("testcase")}
    assert set(cases) == {
        ("tool search_flights", "p95_ms <= 5 ms"),
        ("tool search_flights", f"calls <= {REQUESTS}"),
        ("llm openai/gpt-4o-mini", f"calls <= {REQUESTS - 1}"),
        ("llm openai/gpt-4o-mini", f"output_tokens_per_call <= {ANSWER_WORDS - 1} tokens"),
        ("tool refund", "calls <= 1"),
    }
    assert cases[("tool search_flights", f"calls <= {REQUESTS}")] is None  # holds: no failure
    failure = cases[("llm openai/gpt-4o-mini", f"calls <= {REQUESTS - 1}")]
    assert failure is not None
    assert failure.get("message") == f"calls {REQUESTS} > limit {REQUESTS - 1}, over by +1 (+33.3%)"


def test_the_table_and_json_name_the_same_broken_budgets(run: Run, capsys: pytest.CaptureFixture[str]) -> None:
    status, table, _ = _check(run, BREAKING, capsys=capsys)
    assert status == 3
    broken_lines = [line.split()[1:4] for line in table.splitlines() if line.startswith("BROKEN ")]
    assert len(broken_lines) == 4
    status, text, _ = _check(run, BREAKING, "--format", "json", capsys=capsys)
    report = json.loads(text)
    assert (status, report["broken"]) == (3, 4)
    p95 = next(c for c in report["checks"] if c["figure"] == "p95_ms")
    assert (p95["unit"], p95["limit"], p95["broken"]) == ("ms", 5, True)
    assert p95["measured"] == pytest.approx(run.operation("tool", "search_flights")["quantiles"]["p95"] * 1000)


def test_a_roots_requests_have_budgets_of_their_own(run: Run, capsys: pytest.CaptureFixture[str]) -> None:
    """Per request of ``agent trip_planner`` (the report's lead): its count and latency from the request's
    row, its LLM calls and tokens per request from the run's rows; one LLM call each, nine tokens out."""
    (request,) = run.report["requests"]
    assert (request["kind"], request["name"], request["count"]) == ("agent", "trip_planner", REQUESTS)
    budgets = f"""
["request agent trip_planner"]
requests = {REQUESTS}
p95_ms = {request["p95_seconds"] * 1000 + 1}
llm_calls_per_request = 0
output_tokens_per_request = {ANSWER_WORDS}
"""
    status, text, _ = _check(run, budgets, "--format", "json", capsys=capsys)
    checks = {check["figure"]: check for check in json.loads(text)["checks"]}
    assert status == 3
    assert [figure for figure, check in checks.items() if check["broken"]] == ["llm_calls_per_request"]
    assert checks["llm_calls_per_request"]["measured"] == 1
    assert checks["output_tokens_per_request"]["measured"] == ANSWER_WORDS
    assert checks["requests"]["measured"] == REQUESTS


@pytest.mark.parametrize(
    ("budgets", "named"),
    [
        ('[allow]\np95_ms = "+x%"\n', "budgets.allow.p95_ms"),
        ('["tool search_flights"]\np95 = 800\n', 'budgets."tool search_flights".p95'),
        ('["tool search_flights"]\ncost_usd_per_call = 1\n', 'budgets."tool search_flights".cost_usd_per_call'),
        ('["tol search_flights"]\np95_ms = 800\n', 'budgets."tol search_flights"'),
        ('["tool search_flights"]\np95_ms = "800"\n', 'budgets."tool search_flights".p95_ms'),
        ("p95_ms = 800\n", "budgets.p95_ms"),
    ],
)
def test_a_bad_budgets_table_is_one_line_naming_its_key(
    run: Run, budgets: str, named: str, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, err = _check(run, budgets, capsys=capsys)
    assert (status, out) == (2, "")
    assert err.startswith(f"otel-agentperf: {named}: ") and err.count("\n") == 1, err


def test_unusable_input_is_status_2_in_one_line(run: Run, capsys: pytest.CaptureFixture[str]) -> None:
    for args in (["--file", str(run.folder / "missing.otlp")], ["--file", str(run.saved), "--baseline", "nope.json"]):
        capsys.readouterr()
        status = cli.main(["check", "--budgets", str(run.folder / "holding.toml"), *args])
        out, err = capsys.readouterr()
        assert (status, out, err.count("\n")) == (2, "", 1), err
        assert "Traceback" not in err


ALLOW_NOTHING = """
[allow]
p95_ms = "+0%"
calls = "+0"
output_tokens_per_call = "+0"
cost_usd_per_call = "+0%"
"""


def test_a_baseline_of_the_same_run_holds_with_no_allowance(run: Run, capsys: pytest.CaptureFixture[str]) -> None:
    for baseline in (run.json, run.saved):
        status, out, err = _check(run, ALLOW_NOTHING, "--baseline", str(baseline), capsys=capsys)
        assert status == 0, out + err
        checked = int(out.split()[3])  # "otel-agentperf check: all N budgets hold"
        # p95 and calls of three operations (and of code outside them, none), tokens and cost of the LLM, and
        # the p95 of the root's requests (a request has no calls: its count is ``requests``)
        assert checked == 3 * 2 + 2 + 1, out
        assert "request agent trip_planner" in out


def test_a_faster_baseline_fails_naming_the_figure(run: Run, capsys: pytest.CaptureFixture[str]) -> None:
    faster = json.loads(run.json.read_text())
    for item in faster["operations"]:
        if item["kind"] == "tool":
            item["quantiles"]["p95"] /= 2
        if item["kind"] == "llm":
            item["calls"] -= 1
    (run.folder / "faster.json").write_text(json.dumps(faster))
    status, out, _ = _check(run, ALLOW_NOTHING, "--baseline", str(run.folder / "faster.json"), capsys=capsys)
    assert status == 3
    broken = [line.split() for line in out.splitlines() if line.startswith("BROKEN ")]
    named = {(words[1], words[2], words[3]) for words in broken}
    assert named == {("tool", "search_flights", "p95_ms"), ("llm", "openai/gpt-4o-mini", "calls")}
    p95_ms = run.operation("tool", "search_flights")["quantiles"]["p95"] * 1000
    (line,) = [line for line in out.splitlines() if line.startswith("BROKEN ") and " p95_ms " in line]
    assert "+100.0%" in line  # twice the baseline's p95
    assert f"baseline {round(p95_ms / 2, 3):g} ms +0%" in line


def test_run_checks_after_its_report_and_the_apps_failure_wins(run: Run, server: Any) -> None:
    env = _env(server)
    (run.folder / "tools.toml").write_text('["tool lookup_order"]\np95_ms = 5  # it sleeps 20 ms a call\n')
    app = APPS / "run_app.py"
    for app_status, expected in ((0, 3), (5, 5)):
        result = _bash(
            f"{CLI} run --slowest 0 --budgets tools.toml -- {sys.executable} {app} {app_status}", run.folder, env
        )
        assert result.returncode == expected, result.stdout + result.stderr
        report, _, gate = result.stdout.partition("otel-agentperf check: ")
        assert "lookup_order" in report  # the report first, then the gate's table
        assert gate.startswith("1 of 1 budget broken\n")
        assert "BROKEN  tool lookup_order  p95_ms" in gate
        said = "exits with the command's status 5, not the gate's" in gate
        assert said == bool(app_status)


def test_run_refuses_bad_budgets_before_the_command_starts(run: Run, server: Any) -> None:
    (run.folder / "bad.toml").write_text('["tool x"]\nslowness = 1\n')
    result = _bash(f"{CLI} run --budgets bad.toml -- touch started", run.folder, _env(server))
    assert result.returncode == 2
    assert result.stderr.startswith('otel-agentperf: budgets."tool x".slowness: unknown figure')
    assert not (run.folder / "started").exists()


@pytest.fixture(scope="module")
def recipe(server: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project as docs/ci.md describes it: its app, the budgets block as its pyproject.toml, and a
    baseline recorded by the baseline block's commands."""
    folder = tmp_path_factory.mktemp("recipe")
    shutil.copy(APPS / "gate_app.py", folder / "app.py")
    (folder / "pyproject.toml").write_text(block("ci-budgets").text)
    for line in commands(block("ci-baseline").text):
        result = _bash(line, folder, _env(server))
        assert result.returncode == 0, f"{line}\n{result.stdout}{result.stderr}"
    return folder


def _workflow_steps() -> list[str]:
    """The ``run:`` commands of the workflow block, in order, but for the install step."""
    workflow = yaml.safe_load(block("ci-workflow").text)
    (job,) = workflow["jobs"].values()
    lines = [step["run"] for step in job["steps"] if "run" in step]
    assert lines[0].startswith("pip install otel-agentperf")  # tests/test_install.py installs it as users do
    return lines[1:]


def test_the_workflow_passes_a_run_within_its_budgets(recipe: Path, server: Any) -> None:
    for line in _workflow_steps():
        result = _bash(line, recipe, _env(server))
        assert result.returncode == 0, f"{line}\n{result.stdout}{result.stderr}"
    comment = (recipe / "perf-gate.md").read_text()
    assert comment.startswith("### otel-agentperf check: all ")
    suite = ET.parse(recipe / "perf-junit.xml").getroot().find("testsuite")
    assert suite is not None and suite.get("failures") == "0" and int(suite.get("tests", "0")) >= 10


def test_the_workflow_fails_against_a_faster_baseline_and_still_writes_its_reports(recipe: Path, server: Any) -> None:
    baseline = recipe / "perf" / "baseline.json"
    recorded = baseline.read_text()
    faster = json.loads(recorded)
    (llm,) = [item for item in faster["operations"] if item["kind"] == "llm"]
    llm["calls"] -= 1  # the baseline made one LLM call fewer
    baseline.write_text(json.dumps(faster))
    try:
        statuses = [_bash(line, recipe, _env(server)).returncode for line in _workflow_steps()]
    finally:  # the project's own baseline again, for the module's other tests (in any order)
        baseline.write_text(recorded)
    assert statuses == [0, 3, 0]  # the check step fails the job; the verdict is still shown
    comment = (recipe / "perf-gate.md").read_text()
    broken = _markdown_table(comment, "**Broken budgets**")
    assert comment.startswith(f"### otel-agentperf check: {len(broken)} of ")
    # The planted count, exactly; beside it only timings may break, on a machine loaded unlike when the
    # baseline was recorded (the recipe allows p95 250 ms more than the baseline's).
    (row,) = [row for row in broken if row["figure"] != "p95_ms"]
    assert (row["subject"], row["figure"], row["measured"], row["limit"]) == (
        "llm openai/gpt-4o-mini",
        "calls",
        str(REQUESTS),
        str(REQUESTS - 1),
    )
    failures = [failure.get("message", "") for failure in ET.parse(recipe / "perf-junit.xml").getroot().iter("failure")]
    assert len(failures) == len(broken)
    (other,) = [message for message in failures if not message.startswith("p95_ms ")]
    assert other.startswith(f"calls {REQUESTS} > limit {REQUESTS - 1}")
