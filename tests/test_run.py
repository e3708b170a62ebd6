"""``otel-agentperf run`` end to end: real apps under the real launcher, their telemetry received for real.

The spans the app really made are read independently of the receiver, from the SDK's console exporter
(``run`` keeps exporters the user lists), and compared with the waterfall line by line.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from otel_agentperf.receiving import received
from otel_agentperf.views import otlp
from tests import invariants, tmux
from tests.test_launcher import _free_port

# Once, not twice, under `--count 2` (CI time, see scripts/test.sh): what these tests check runs in processes
# they start afresh; all they share in this process is the session's local model server.
pytestmark = pytest.mark.repeat(1)

ROOT = Path(__file__).resolve().parent.parent
APPS = ROOT / "tests" / "apps"
CLI = str(Path(sys.executable).parent / "otel-agentperf")


def _env(**extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("OTEL_", "COLUMNS", "LINES"))}
    env.update(extra)
    return env


def _console_spans(stdout: str) -> list[dict[str, Any]]:
    """The spans the SDK's console exporter printed: indented JSON objects, one after another."""
    spans, block = [], []
    for line in stdout.splitlines():
        if line == "{":
            block = [line]
        elif block:
            block.append(line)
            if line == "}":
                spans.append(json.loads("\n".join(block)))
                block = []
    return spans


def _nanos(stamp: str) -> int:
    moment = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    return int(moment.timestamp()) * 10**9 + moment.microsecond * 1000


def _expected_lines(spans: list[dict[str, Any]], trace_id: str) -> list[tuple[int, str, float]]:
    """(depth, name, duration ms) of one trace's spans in tree order, children in start order."""
    mine = [span for span in spans if span["context"]["trace_id"] == f"0x{trace_id}"]
    ids = {span["context"]["span_id"] for span in mine}
    children: dict[str | None, list[dict[str, Any]]] = {}
    for span in mine:
        parent = span["parent_id"] if span["parent_id"] in ids else None
        children.setdefault(parent, []).append(span)
    lines: list[tuple[int, str, float]] = []

    def walk(parent: str | None, depth: int) -> None:
        for span in sorted(children.get(parent, []), key=lambda s: _nanos(s["start_time"])):
            duration = (_nanos(span["end_time"]) - _nanos(span["start_time"])) / 1e6
            failed = "  [error]" if span["status"]["status_code"] == "ERROR" else ""
            lines.append((depth, span["name"] + failed, duration))
            walk(span["context"]["span_id"], depth + 1)

    walk(None, 0)
    return lines


def _waterfalls(text: str) -> dict[str, list[tuple[int, str, float, float]]]:
    """Each drawn trace: (depth, name, duration ms, self ms) per line, as printed."""
    drawn: dict[str, list[tuple[int, str, float, float]]] = {}
    current: list[tuple[int, str, float, float]] | None = None
    for line in text.splitlines():
        heading = re.match(r"trace ([0-9a-f]{32})  ", line)
        if heading:
            current = drawn.setdefault(heading.group(1), [])
        elif current is not None and line.endswith("|") and "  |" in line:
            label = line[60 : line.index("  |", 60)].rstrip()  # after start, duration, self, waited and path
            name = label.lstrip(" ")
            current.append(((len(label) - len(name)) // 2, name, float(line[12:22]), float(line[24:34])))
        elif not line.strip():
            current = None
    return drawn


def _run(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([CLI, "run", *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=240)


def test_run_on_the_example_app_reports_its_operations_and_draws_its_real_spans(server: Any, tmp_path: Path) -> None:
    saved = tmp_path / "research.run"
    env = _env(
        OTEL_SERVICE_NAME="research-assistant",
        OTEL_TRACES_EXPORTER="console",  # kept beside run's own exporter: the spans, independently
        OTEL_BSP_SCHEDULE_DELAY="600000",  # spans exported at exit, after the app's own lines, not among them
        OTEL_AGENTPERF_CONFIG=str(ROOT / "examples" / "research_assistant" / "agentperf.toml"),
        PYTHONPATH=str(ROOT / "examples"),
        OPENAI_BASE_URL=server.base_url,
        OPENAI_API_KEY="local",
    )
    result = _run(
        ["--save", str(saved), "--slowest", "2", "--", sys.executable, "-m", "research_assistant", "--rounds", "1"],
        env,
        tmp_path,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("answered 4 questions\nready\n")  # the app's own lines, first and unchanged
    assert "Traceback" not in result.stderr
    report = result.stdout.split("otel-agentperf run: ", 1)[1]
    invariants.check_text(report)
    command = re.escape(f"`{sys.executable} -m research_assistant --rounds 1`")
    assert re.match(rf"{command} exited with status 0 after [\d.]+ s; received ", report)
    table = {line.split()[1]: line.split() for line in report.splitlines() if line.startswith(("agent ", "workflow "))}
    # One round: 4 questions, one ResearchAgent each, under the Orchestrator; the LangGraph review once.
    assert table["ResearchAgent"][2] == "4"
    assert table["Orchestrator"][2] == "1"
    assert table["fact_checker"][2] == "1"
    assert "Bottlenecks:" in report and "config `load_settings` loaded config 5 times" in report

    spans = _console_spans(result.stdout)
    assert len(spans) == int(re.search(r"received (\d+) spans", report).group(1))  # type: ignore[union-attr]
    drawn = _waterfalls(report.split("Slowest traces", 1)[1])
    traces = {span["context"]["trace_id"][2:] for span in spans}
    assert len(drawn) == 2 and set(drawn) <= traces
    for trace_id, lines in drawn.items():
        expected = _expected_lines(spans, trace_id)
        assert [(depth, name) for depth, name, _, _ in lines] == [(depth, name) for depth, name, _ in expected]
        for (_, _, shown, own), (_, _, duration) in zip(lines, expected, strict=True):
            assert shown == pytest.approx(duration, abs=0.06)
            assert 0 <= own <= shown + 0.05
    slowest = next(iter(drawn.values()))
    assert slowest[0][1] == "invoke_workflow Orchestrator"  # the run's longest trace is the orchestrator's
    assert (1, "invoke_agent ResearchAgent") in [(depth, name) for depth, name, _, _ in slowest]
    assert any(name.startswith("chat ") and depth >= 2 for depth, name, _, _ in slowest)

    # The saved run reads back into the same report and the same waterfalls.
    again = subprocess.run([CLI, "report", "--file", str(saved)], capture_output=True, text=True, timeout=60)
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip() in report
    traces_again = subprocess.run(
        [CLI, "traces", "--file", str(saved), "--slowest", "2"], capture_output=True, text=True, timeout=60
    )
    assert traces_again.returncode == 0, traces_again.stderr
    assert report.rstrip().endswith(traces_again.stdout.rstrip())
    as_json = subprocess.run(
        [CLI, "report", "--file", str(saved), "--format", "json"], capture_output=True, text=True, timeout=60
    )
    invariants.check_text(again.stdout)
    invariants.check_json(json.loads(as_json.stdout))
    rows = {(op["kind"], op["name"]): op for op in json.loads(as_json.stdout)["operations"]}
    model = rows[("llm", "openai/slow-20-assistant-small")]
    assert model["calls"] == 8 and model["tokens"] == 21 + 33 + 8 * 9  # as tests/test_example.py counts them
    assert (model["input_tokens"], model["output_tokens"]) == (21 + 33, 8 * 9)  # split by the token type
    assert model["cost_usd"] == pytest.approx(((21 + 33) * 0.15 + 8 * 9 * 0.60) / 1e6)  # priced, so known
    for op in rows.values():
        for key, value in op["quantiles"].items():
            if value is not None and op["minimum"] is not None:
                assert op["minimum"] <= value <= op["maximum"], (op["name"], key)


def test_run_passes_the_exit_status_and_the_output_through(tmp_path: Path) -> None:
    result = _run(["--", sys.executable, str(APPS / "run_app.py"), "3"], _env(), tmp_path)
    assert result.returncode == 3
    assert result.stdout.startswith("app says refunded order A1\napp says refunded order B2\n\n")
    assert result.stderr == "app warns on stderr\n"
    assert re.search(r"exited with status 3 after [\d.]+ s; received 7 spans", result.stdout)
    rows = {
        line.split()[1]: line.split() for line in result.stdout.splitlines() if line.startswith(("tool ", "agent "))
    }
    assert (rows["lookup_order"][2], rows["refund"][2], rows["support_agent"][2]) == ("3", "2", "2")
    drawn = _waterfalls(result.stdout.split("Slowest traces", 1)[1])
    assert sorted([(d, n) for d, n, _, _ in lines] for lines in drawn.values()) == [
        [(0, "execute_tool lookup_order")],
        *[[(0, "invoke_agent support_agent"), (1, "execute_tool lookup_order"), (1, "execute_tool refund")]] * 2,
    ]


def test_slowest_0_gives_the_report_without_waterfalls_and_a_negative_count_is_refused(tmp_path: Path) -> None:
    result = _run(["--slowest", "0", "--", sys.executable, str(APPS / "run_app.py"), "0"], _env(), tmp_path)
    assert result.returncode == 0, result.stderr
    assert re.search(r"exited with status 0 after [\d.]+ s; received 7 spans", result.stdout)
    assert any(line.startswith("agent ") and "support_agent" in line for line in result.stdout.splitlines())
    assert "Slowest traces" not in result.stdout and "No spans were received" not in result.stdout
    refused = _run(["--slowest", "-1", "--", "true"], _env(), tmp_path)
    assert refused.returncode == 2 and "--slowest: must be 0 or more: '-1'" in refused.stderr


def test_run_without_a_command_or_with_a_missing_one_says_so_in_one_line(tmp_path: Path) -> None:
    missing = _run(["--", "no-such-command-here"], _env(), tmp_path)
    assert (missing.returncode, missing.stderr) == (127, "otel-agentperf: command not found: no-such-command-here\n")
    empty = _run([], _env(), tmp_path)
    assert empty.returncode == 2
    assert empty.stderr == "otel-agentperf: run needs a command: otel-agentperf run -- python app.py\n"
    bad = _run(["--save", str(tmp_path / "no" / "such" / "dir"), "--", "true"], _env(), tmp_path)
    assert bad.returncode == 2 and bad.stderr.startswith("otel-agentperf: cannot write ")
    assert bad.stderr.count("\n") == 1 and bad.stderr.endswith("\n")


def test_a_full_disk_under_save_is_said_and_the_app_and_report_go_on(tmp_path: Path) -> None:
    full = Path("/dev/full")  # every write fails with ENOSPC
    if not full.exists():
        pytest.skip("no /dev/full here")
    result = _run(["--save", str(full), "--", sys.executable, str(APPS / "run_app.py")], _env(), tmp_path)
    assert result.returncode == 0 and result.stderr == "app warns on stderr\n"
    assert re.search(r"received 7 spans and \d+ metric exports? \(/dev/full: cannot save: No space left", result.stdout)
    assert "Slowest traces (3 of 3; " in result.stdout


def _resource(request: Any) -> dict[str, str]:
    (resource_spans,) = request.resource_spans
    return {each.key: each.value.string_value for each in resource_spans.resource.attributes}


def test_repeat_runs_the_command_n_times_into_one_saved_run_each_run_marked(tmp_path: Path) -> None:
    counter, save = tmp_path / "runs.txt", tmp_path / "repeated.otlp"
    command = [sys.executable, str(APPS / "repeat_app.py"), str(counter), "0", "3", "5"]
    result = _run(
        ["--repeat", "3", "--save", str(save), "--slowest", "0", "--", *command],
        _env(OTEL_RESOURCE_ATTRIBUTES="team=orders"),
        tmp_path,
    )
    # Every run ran, and run exits with the first failing run's status.
    assert counter.read_text().splitlines() == ["ran"] * 3
    assert result.returncode == 3, result.stdout + result.stderr
    said = r"ran 3 times in [\d.]+ s \(statuses 0, 3, 5; exits with 3, the first failing run's\)"
    assert re.search(said, result.stdout)
    # The report covers all runs: 1 + 2 + 3 agent invocations.
    rows = {line.split()[1]: line.split() for line in result.stdout.splitlines() if line.startswith("agent ")}
    assert rows["support_agent"][2] == "6"
    runs = received.load(save.read_bytes()).runs()
    assert [run.index for run in runs] == [1, 2, 3]
    for run in runs:
        agents = [
            span
            for request in run.trace_requests()
            for resource_spans in request.resource_spans
            for scope_spans in resource_spans.scope_spans
            for span in scope_spans.spans
            if span.name == "invoke_agent support_agent"
        ]
        assert len(agents) == run.index
        agent_rows = [row for row in otlp.rows(run.metric_requests()) if row.name == "support_agent"]
        assert [row.calls for row in agent_rows] == [run.index]
        assert {_resource(request)["team"] for request in run.trace_requests()} == {"orders"}  # the user's kept


def test_a_signal_stops_the_repeated_runs_at_the_run_it_reaches(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [CLI, "run", "--repeat", "3", "--slowest", "0", "--", sys.executable, str(APPS / "repeat_app.py"), "--wait"],
        env=_env(),
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # the SIGTERM goes to run alone, which forwards it
    )
    assert process.stdout is not None
    assert process.stdout.readline() == "waiting\n"
    process.send_signal(signal.SIGTERM)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 128 + signal.SIGTERM, stdout + stderr
    assert "waiting" not in stdout  # no second run started
    assert re.search(r"exited with status 143 after [\d.]+ s", stdout)


def test_a_signal_run_inherited_as_ignored_stays_ignored_as_it_would_without_run(tmp_path: Path) -> None:
    # A background job of a non-interactive shell starts with SIGINT ignored, and so does its app: a SIGINT
    # to run neither stops the app nor the repeated runs, as a loop running the app twice would go on.
    app = "import time; print('waiting', flush=True); time.sleep(1); print('done', flush=True)"
    ignoring = ["sh", "-c", 'trap "" INT; exec "$@"', "sh"]
    process = subprocess.Popen(
        [*ignoring, CLI, "run", "--repeat", "2", "--slowest", "0", "--", sys.executable, "-c", app],
        env=_env(),
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    assert process.stdout is not None
    assert process.stdout.readline() == "waiting\n"
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 0, stdout + stderr
    assert stdout.splitlines().count("done") == 2, stdout  # both runs went to their end


def test_repeat_with_the_live_view_or_below_1_is_refused_in_one_line(tmp_path: Path) -> None:
    live = _run(["--repeat", "2", "--live", "--", "true"], _env(), tmp_path)
    assert (live.returncode, live.stderr) == (2, "otel-agentperf: --live shows one run: drop --live or --repeat\n")
    zero = _run(["--repeat", "0", "--", "true"], _env(), tmp_path)
    assert zero.returncode == 2 and "--repeat: must be more than 0: '0'" in zero.stderr


def test_report_on_nothing_points_at_run_and_the_prometheus_exporter() -> None:
    url = f"http://127.0.0.1:{_free_port()}/metrics"
    result = subprocess.run([CLI, "report", "--url", url], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "otel-agentperf run -- python app.py" in result.stderr
    assert "OTEL_METRICS_EXPORTER=prometheus" in result.stderr
    assert "Traceback" not in result.stderr


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:
        return str(response.read().decode())


SERVERS = {
    # uvicorn starts its workers with multiprocessing's spawn: each sets the SDK up anew.
    "uvicorn": ["-m", "uvicorn", "asgi_app:app", "--workers", "2", "--port"],
    # os.fork after the launcher set the SDK up, as gunicorn does: the workers inherit it.
    "fork": [str(APPS / "forking_server.py")],
}


@pytest.mark.parametrize("workers_by", sorted(SERVERS))
def test_every_worker_of_a_server_with_two_workers_reports(workers_by: str, tmp_path: Path) -> None:
    if workers_by == "uvicorn":
        pytest.importorskip("uvicorn")
    port = _free_port()
    command = [sys.executable, *SERVERS[workers_by], str(port)]
    # A session of its own: the SIGINT below is sent to run alone, as `kill -INT` would, and run forwards it.
    process = subprocess.Popen(
        [CLI, "run", "--slowest", "1", "--", *command],
        env=_env(PYTHONPATH=str(APPS)),
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        workers: list[str] = []
        deadline = time.monotonic() + 120
        while len(set(workers)) < 2 and time.monotonic() < deadline:
            try:
                workers.append(_get(f"http://127.0.0.1:{port}/order"))
            except OSError:
                time.sleep(0.2)  # not listening yet
        assert len(set(workers)) == 2, f"one worker answered every request: {workers}"
    finally:
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 0, stdout + stderr
    rows = {line.split()[1]: line.split() for line in stdout.splitlines() if line.startswith(("tool ", "agent "))}
    assert rows["support_agent"][2] == rows["lookup_order"][2] == str(len(workers))  # both workers' calls
    assert f"received {2 * len(workers)} spans" in stdout
    assert "Transient error" not in stderr and "Traceback" not in stderr


_tmux = tmux.tmux


def _screen(binary: str, session: str) -> str:
    return tmux.screen(binary, session, history=300)


def _wait_for(binary: str, session: str, text: str) -> str:
    return tmux.wait_for(binary, session, text, timeout=60.0, history=300)


def test_live_view_while_the_app_runs_then_ctrl_c_gives_the_report(tmp_path: Path) -> None:
    tmux = _tmux()
    session = f"agentperf-run-{uuid.uuid4().hex[:8]}"
    app = f"{sys.executable} {APPS / 'loop_app.py'}"
    shell = (
        f"env -u COLUMNS -u LINES PYTHONPATH={APPS} {CLI} run --live --interval 1 -- {app}; echo run-exit=$?; sleep 60"
    )
    subprocess.run([tmux, "new-session", "-d", "-s", session, "-x", "200", "-y", "50", shell], check=True)
    try:
        screen = _wait_for(tmux, session, "support_agent")
        assert "otel-agentperf top" in screen and "lookup_order" in screen
        # A second frame: a window of what arrived since the first. The header is one line however long the
        # checkout's path in the command it names.
        _wait_for(tmux, session, "otel-agentperf top (last ")
        subprocess.run([tmux, "send-keys", "-t", session, "C-c"], check=True)
        screen = _wait_for(tmux, session, "run-exit=")
        assert "run-exit=0" in screen  # the app's own status: it caught the Ctrl-C and ended
        assert "app interrupted" in screen
        assert "exited with status 0" in screen and "Slowest traces" in screen
        assert "Traceback" not in screen
    finally:
        subprocess.run([tmux, "kill-session", "-t", session], capture_output=True)
