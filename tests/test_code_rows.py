"""Code outside operations that held the event loop: rows anyone can act on (issue #26).

A real asyncio app (tests/apps/code_rows, no otel-agentperf code) under ``otel-agentperf run`` holds its
loop in the standard library called from its tools, in the import system's frozen code called from its
plugin probe, in a dataclass's generated ``__init__``, and in a library callback with no application frame;
it also blocks at module level before and after ``asyncio.run``. Each used to be a row named by a machine
path, a ``<frozen ...>`` or ``<string>`` frame, or the script's ``<module>``.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from otel_agentperf.views.families import CODE, CODE_SHARE, significant
from otel_agentperf.views.rows import Row

# Once, not twice, under `--count 2` (CI time, see scripts/test.sh): what this checks runs in a process it
# starts afresh.
pytestmark = pytest.mark.repeat(1)

APP = Path(__file__).parent / "apps" / "code_rows"
CLI = str(Path(sys.executable).parent / "otel-agentperf")
_NAME = re.compile(r"[A-Za-z_][\w.]*:[A-Za-z_][\w.<>]*")


def _code_rows(tmp_path: Path) -> tuple[dict[str, float], dict[str, float], str]:
    """Run the app; its code rows (name: held seconds), what it measured, and the printed report."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("OTEL_")}
    saved = tmp_path / "run.otlp"
    command = [CLI, "run", "--slowest", "0", "--save", str(saved), "--", sys.executable, "main.py"]
    result = subprocess.run(command, cwd=APP, env=env, capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stdout + result.stderr
    measured = json.loads(result.stdout.splitlines()[0])
    as_json = subprocess.run(
        [CLI, "report", "--file", str(saved), "--format", "json"], capture_output=True, text=True, timeout=60
    )
    assert as_json.returncode == 0, as_json.stderr
    rows = {code["name"]: code["blocked_seconds"] for code in json.loads(as_json.stdout)["code_outside_operations"]}
    return rows, measured, result.stdout


def test_code_rows_are_module_function_resolved_to_the_application_frame(tmp_path: Path) -> None:
    rows, measured, printed = _code_rows(tmp_path)
    assert rows, printed
    for name in rows:
        assert _NAME.fullmatch(name), name  # module:function, never a path or a frame's file
        assert not any(bad in name for bad in ("/", "<module>", "<string>", "<frozen", "__create_fn__")), name
    assert not any(name.startswith(("main:", "__main__:")) for name in rows)  # the script's own module
    # Each holder is the application frame inside the callback, charged what the app measured.
    for name, key in (
        ("fareapp.tools:_legacy_fare_lookup", "lookup"),  # the standard library's copy.deepcopy
        ("fareapp.plugins:load_plugins", "plugins"),  # <frozen importlib._bootstrap_external> _path_stat
        ("fareapp.booking:open_session", "session"),  # the dataclass's generated __init__ (<string>)
    ):
        assert 0.5 * measured[key] <= rows.get(name, 0.0) <= 1.1 * measured[key] + 0.01, (name, rows, measured)
    # json.dumps handed to call_soon: no application frame in the callback, so the library is named, briefly.
    library = sum(held for name, held in rows.items() if name.startswith("json."))
    assert 0.5 * measured["report"] <= library <= 1.1 * measured["report"] + 0.01, (rows, measured)
    # The module-level work before and after asyncio.run (no loop running) is charged to nothing.
    listed = sum(rows.values())
    assert listed <= 1.1 * (measured["lookup"] + measured["plugins"] + measured["session"] + measured["report"]) + 0.05
    assert measured["module"] > 0.2  # it did block, for longer than the threshold, twice
    listed_lines = printed.split("Code outside operations that held the event loop:\n", 1)[1].split("\n\n", 1)[0]
    names_listed = [line.split()[1] for line in listed_lines.splitlines()]
    assert names_listed and all(_NAME.fullmatch(name) for name in names_listed)
    assert names_listed == sorted(rows, key=lambda name: -rows[name])  # the most first, as the JSON has them


def test_code_rows_under_one_percent_of_the_held_time_are_not_listed() -> None:
    tool = Row("tool", "search", calls=3, blocked_seconds=0.9)
    big = Row(CODE, "app.tools:lookup", blocked_seconds=0.095)
    just_over = Row(CODE, "app.tools:stat", blocked_seconds=0.0102)  # of 1.0092 s in all: 1.01%
    under = Row(CODE, "asyncio.events:_run", blocked_seconds=0.004)  # 0.4%
    assert CODE_SHARE == 0.01
    shown = significant([tool, big, just_over, under])
    assert [row.name for row in shown] == ["search", "app.tools:lookup", "app.tools:stat"]
    assert significant([Row(CODE, "app:idle")]) == []  # no held time at all: no code row
