"""``compare``'s diagnosis lines on saved-run pairs where the new version plants one diagnosis: each is named
first among the diagnoses, and in the table's lead, with its change per request within 25% of what the app's
stopwatch gave the planted code (``tests/apps/diagnosis_pair_app.py``; three short runs, side by side)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from otel_agentperf.views import compare, compare_output
from otel_agentperf.views.rows import Row
from tests import invariants
from tests.regression_runs import CLI, TOLERANCE

pytestmark = pytest.mark.repeat(1)  # the runs are processes of their own

APP = Path(__file__).parent / "apps" / "diagnosis_pair_app.py"
REQUESTS = 30


def _app(version: str) -> list[str]:
    return [sys.executable, str(APP), version, str(REQUESTS)]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, float]]:
    """Each version's saved run and its planted seconds per request."""
    folder = tmp_path_factory.mktemp("diagnosis-pairs")
    env = {key: value for key, value in os.environ.items() if not key.startswith("OTEL_")}
    started = {
        version: subprocess.Popen(
            [CLI, "run", "--save", str(folder / f"{version}.otlp"), "--slowest", "0", "--", *_app(version)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for version in ("v1", "repeats", "sequential")
    }
    found = {}
    for version, process in started.items():
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, f"{version}:\n{out}\n{err}"
        planted = next(float(line.split()[1]) for line in out.splitlines() if line.startswith("planted "))
        found[version] = (folder / f"{version}.otlp", planted)
    return found


@pytest.mark.parametrize(
    ("version", "what", "culprit"),
    [
        ("repeats", "repeated calls", "tool `lookup_order`"),
        ("sequential", "calls one after another (recoverable)", "agent `order_desk`"),
    ],
)
def test_the_planted_diagnosis_is_named_first_with_its_change(
    runs: dict[str, tuple[Path, float]], version: str, what: str, culprit: str
) -> None:
    (base, _), (new, planted) = runs["v1"], runs[version]
    table = subprocess.run([CLI, "compare", str(base), str(new)], capture_output=True, text=True, check=True).stdout
    print(table)
    report = json.loads(
        subprocess.run([CLI, "compare", str(base), str(new), "--format", "json"], capture_output=True, text=True).stdout
    )
    invariants.check_compare_json(report)
    invariants.check_compare_text(table)
    first = report["diagnoses"][0]
    assert (first["what"], f"{first['kind']} `{first['name']}`") == (what, culprit), report["diagnoses"]
    assert abs(first["delta_seconds"] - planted) <= TOLERANCE * planted, (first, planted)
    assert f"Largest change in a diagnosis: {what} of {culprit}:" in table
    assert first["line"] in table


def test_diagnoses_are_per_request_with_tokens_and_dollars_and_ordered_by_change() -> None:
    """Row figures divided by each run's requests; an import per process, ordered by its change spread over the
    requests (two processes, 20 requests: -200 ms a process is -20 ms a request); hotspots per location."""
    base = [Row("agent", "a", calls=10), Row("request", "agent a", calls=10)]
    base += [Row("llm", "openai/m", calls=20, excess_seconds=1.0, excess_tokens=100, excess_usd=0.01)]
    base += [Row("import", "heavy", calls=1, total_seconds=0.5)]
    new = [Row("agent", "a", calls=20), Row("request", "agent a", calls=20)]
    new += [Row("llm", "openai/m", calls=40, excess_seconds=8.0, excess_tokens=1000, excess_usd=0.1)]
    new += [Row("import", "heavy", calls=2, total_seconds=0.6)]
    new += [Row("tool", "t", calls=20, hotspots={"app:f:3": 0.6}, connection_wait_seconds=0.2)]
    base += [Row("loop", "MainThread", saturated_seconds=1.0, saturated_queued_seconds=1.0)]
    new += [Row("loop", "MainThread", saturated_seconds=2.0, saturated_queued_seconds=5.0)]
    found = compare.compare(compare.Side("v1", base), compare.Side("v2", new)).diagnoses
    texts = [compare_output.diagnosis_text(diagnosis) for diagnosis in found]
    assert texts == [
        "growing prompts of llm `openai/m`: 100.0 → 400.0 ms per request (+300.0 ms), tokens +40.0, +$0.0040",
        "queued on a saturated loop of loop `MainThread`: 100.0 → 250.0 ms per request (+150.0 ms)",
        "CPU hotspot of tool `t` at app:f:3: 0.0 → 30.0 ms per request (+30.0 ms)",
        "slow import `heavy`: 500.0 → 300.0 ms per process (-200.0 ms)",
        "waiting for a connection of tool `t`: 0.0 → 10.0 ms per request (+10.0 ms)",
    ]
