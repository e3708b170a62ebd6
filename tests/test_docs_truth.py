"""Every code block of README.md and docs/*.md is run by a test, or says why it cannot run here (issue #15).

The blocks are read from the docs themselves (``tests/doc_blocks.py``), never copied, and only ports,
hosts and working folders are adapted; what the text promises (the comments beside a command, the span
names beside a decorator, the shape of a sample) is checked against what really happens. The blocks run
elsewhere: the README's main job in ``tests/test_example.py``, the lock command in ``tests/test_lock.py``,
the backends in ``tests/test_backends.py``, the README's install and docs/release.md's build and check in
``tests/test_install.py``.
"""

from __future__ import annotations

import ast
import asyncio
import functools
import importlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import pytest

from otel_agentperf.command import cli
from tests import invariants, tmux
from tests.conftest import Recorded
from tests.doc_blocks import ROOT, CommandFailed, block, blocks, code_spans, commands, run, unaccounted
from tests.test_launcher import _free_port

# Once, not twice, under `--count 2` (CI time, see scripts/test.sh): what these tests check runs in processes
# they start afresh; all they share in this process is the session's local model server.
pytestmark = pytest.mark.repeat(1)

APPS = ROOT / "tests" / "apps"
BIN = Path(sys.executable).parent
# Code spans that start like a command but are not one.
NOT_COMMANDS = {"otel-agentperf saved run 1": "the first line of a --save file"}


def _requested_ids() -> set[str]:
    sources = [path.read_text() for path in (ROOT / "tests").glob("*.py") if path.name != "doc_blocks.py"]
    return {found for source in sources for found in re.findall(r'\bblock\("([^"]+)"\)', source)}


def test_every_block_is_run_by_a_test_or_says_why_not() -> None:
    assert unaccounted(blocks(), _requested_ids()) == []


PLANTED = """# A doc

```bash
otel-agentperf --version
otel-agentperf report --flie run.otlp
otel-agentperf --version
```
<!-- doc-test: planted -->

```bash
otel-agentperf traces --file run.otlp
```

```bash
twine upload dist/*
```
<!-- not runnable here: publishing -->
"""


def test_a_planted_broken_command_or_unmarked_block_fails_the_docs_truth_test(tmp_path: Path) -> None:
    """A doc with a mistyped option, a block no test runs and a reason too short to be one: the runner stops
    at the broken line, named with what it printed, and the rule names each block that breaks it."""
    doc = tmp_path / "planted.md"
    doc.write_text(PLANTED)
    found = blocks([doc])
    (ran,) = [b for b in found if b.value == "planted"]
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    with pytest.raises(CommandFailed) as failed:
        run(commands(ran.text), tmp_path, env)
    said = str(failed.value)
    assert said.startswith("otel-agentperf report --flie run.otlp\nexit 2\n")
    assert "error:" in said.split("\n", 2)[2]  # what the command said is in the failure
    assert unaccounted(found, {"planted"}) == [f"{doc}:10: no marker", f"{doc}:14: say why"]
    assert unaccounted(found, set()) == [f"{doc}:10: no marker", f"{doc}:14: say why", "no test runs planted"]


def _shell_env(server: Any, **extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("OTEL_", "COLUMNS", "LINES"))}
    env.update(PATH=f"{BIN}{os.pathsep}{env['PATH']}", OPENAI_BASE_URL=server.base_url, OPENAI_API_KEY="local")
    env.update(extra)
    return env


def _bash(line: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", "-c", line], cwd=cwd, env=env, capture_output=True, text=True, timeout=240)


def _rows(text: str, kind: str) -> dict[str, list[str]]:
    """The report table's rows of one kind, by operation name: the words of each row."""
    return {line.split()[1]: line.split() for line in text.splitlines() if line.startswith(f"{kind} ")}


MODEL = "slow-20-quickstart"


@pytest.fixture(scope="module")
def quickstart(server: Any, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """The quickstart's lines up to ``--live``, each run as written in a folder holding the user's app.py."""
    cwd = tmp_path_factory.mktemp("quickstart")
    shutil.copy(APPS / "quickstart" / "app.py", cwd / "app.py")
    outputs = {}
    for line in commands(block("quickstart").text):
        if "--live" not in line:
            server.requests.pop(MODEL, None)
            result = _bash(line, cwd, _shell_env(server))
            assert result.returncode == 0, f"{line}\n{result.stdout}{result.stderr}"
            assert "Traceback" not in result.stderr
            outputs[line] = result.stdout
            invariants.check_text(result.stdout)  # every report the docs' commands print is possible
    return cwd, outputs


def _line(outputs: dict[str, str], start: str) -> str:
    (found,) = [output for line, output in outputs.items() if line.startswith(start)]
    return found


def test_quickstart_run_prints_the_report_and_its_slowest_traces(quickstart: tuple[Path, dict[str, str]]) -> None:
    for start in ("otel-agentperf run -- ", "otel-agentperf run --save"):
        output = _line(quickstart[1], start)
        assert output.startswith("answered 3 questions\n")  # the app's own output, first and unchanged
        assert _rows(output, "llm")[f"openai/{MODEL}"][2] == "3"
        assert "Slowest traces" in output
        assert len(re.findall(rf"^trace [0-9a-f]{{32}} .*\n.*\n +\d.* chat {MODEL} ", output, re.M)) == 3


def test_quickstart_save_keeps_what_report_and_traces_read_again(quickstart: tuple[Path, dict[str, str]]) -> None:
    cwd, outputs = quickstart
    assert (cwd / "run.otlp").read_bytes().startswith(b"otel-agentperf saved run 1\n")
    report = _line(outputs, "otel-agentperf report --file run.otlp")
    assert _rows(report, "llm")[f"openai/{MODEL}"][2] == "3"
    assert "Bottlenecks:" in report
    traces = _line(outputs, "otel-agentperf traces --file run.otlp --slowest 5")
    assert len(re.findall(r"^trace [0-9a-f]{32} ", traces, re.M)) == 3  # three calls: three traces, at most 5
    assert traces.count(f" chat {MODEL} ") == 3


def test_quickstart_html_writes_one_file_with_the_reports_figures(quickstart: tuple[Path, dict[str, str]]) -> None:
    cwd, outputs = quickstart
    said = _line(outputs, "otel-agentperf run --html report.html")
    assert "otel-agentperf run: the HTML report is in report.html" in said
    page = (cwd / "report.html").read_text()
    assert page.startswith("<!doctype html>") and "<link" not in page and " src=" not in page  # nothing to fetch
    embedded = page.split('<script type="application/json" id="agentperf-data">', 1)[1].split("</script>", 1)[0]
    data = json.loads(embedded)
    (model,) = [op for op in data["report"]["operations"] if op["kind"] == "llm"]
    assert (model["name"], model["calls"]) == (f"openai/{MODEL}", 3)
    assert len(data["traces"]["traces"]) == 3  # --slowest's default, as the terminal draws


def test_quickstart_live_view_of_a_server_with_two_workers(server: Any, tmp_path: Path) -> None:
    """The ``--live`` line in a real terminal, the port moved off uvicorn's default; Ctrl-C ends it."""
    (line,) = [line for line in commands(block("quickstart").text) if "--live" in line]
    port = _free_port()
    shutil.copy(APPS / "quickstart" / "app.py", tmp_path / "app.py")
    server.requests.pop(MODEL, None)
    env = _shell_env(server)
    exports = " ".join(f"{key}={value}" for key, value in env.items() if key in ("PATH", "OPENAI_BASE_URL"))
    binary = tmux.tmux()
    session = f"agentperf-docs-{uuid.uuid4().hex[:8]}"
    shell = f"cd {tmp_path} && env -u COLUMNS -u LINES {exports} OPENAI_API_KEY=local {line} --port {port}"
    window = ["-x", "200", "-y", "50"]
    subprocess.run([binary, "new-session", "-d", "-s", session, *window, shell + "; sleep 60"], check=True)
    try:
        tmux.wait_for(binary, session, "otel-agentperf top", timeout=60.0)
        workers: list[str] = []
        deadline = time.monotonic() + 60
        while len(set(workers)) < 2 and time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/question", timeout=10) as response:
                    workers.append(response.read().decode())
            except OSError:
                time.sleep(0.2)  # not listening yet
        assert len(set(workers)) == 2, f"one worker answered every request: {workers}"
        tmux.wait_for(binary, session, f"openai/{MODEL}", timeout=60.0)  # the live view shows the calls
        subprocess.run([binary, "send-keys", "-t", session, "C-c"], check=True)
        screen = tmux.wait_for(binary, session, "Slowest traces", timeout=60.0, history=300)
        rows = _rows(screen, "llm")
        assert rows[f"openai/{MODEL}"][2] == str(len(workers))  # every worker's calls arrived
        assert "Traceback" not in screen
    finally:
        subprocess.run([binary, "kill-session", "-t", session], capture_output=True)


def test_the_waterfall_sample_has_the_shape_run_prints(quickstart: tuple[Path, dict[str, str]]) -> None:
    sample = block("waterfall").text.splitlines()
    printed = _line(quickstart[1], "otel-agentperf run -- ").split("Slowest traces", 1)[1].splitlines()
    heading = re.compile(r"trace [0-9a-f]{32}  \d+\.\d ms  \d+ spans?")
    titles = re.compile(r"  start ms      dur ms     self ms   waited ms     path ms  span +bar")  # the span fits
    optional = r"( {10}|[ \d]{6,}\.\d)"  # the wait and the time on the critical path: a figure or nothing
    span = re.compile(
        rf" {{2,}}\d+\.\d {{2,}}\d+\.\d {{2,}}\d+\.\d {{2}}{optional} {{2}}{optional}  ( {{2}})*\S.*? +\|[#~ ]{{40}}\|"
    )
    assert heading.fullmatch(sample[0]) and any(heading.fullmatch(line) for line in printed)
    assert titles.fullmatch(sample[1]) and any(titles.fullmatch(line) for line in printed)
    assert all(span.fullmatch(line) for line in sample[2:])
    drawn = [line for line in printed if line.endswith("|") and not line.lstrip().startswith("start ms")]
    assert drawn and all(span.fullmatch(line) for line in drawn)


@pytest.fixture
def myapp(tmp_path: Path) -> Path:
    """The app of the README's production examples: agents, config and history in a package ``myapp``."""
    shutil.copytree(APPS / "docs_myapp", tmp_path, dirs_exist_ok=True)
    return tmp_path


def test_the_launcher_block_records_the_targets_it_names(server: Any, myapp: Path) -> None:
    """The production block, with the Prometheus port moved; the app serves until the report has read it."""
    port = str(_free_port())
    script = [f"export OTEL_EXPORTER_PROMETHEUS_PORT={port}"]
    for line in commands(block("launcher").text):
        if line.startswith("opentelemetry-instrument "):
            script += [f"{line} &", "app=$!", "while [ ! -e ready ]; do sleep 0.1; done"]
        else:
            script.append(line.replace("localhost:9464", f"localhost:{port}"))
    script += ["touch stop", "wait $app"]
    result = _bash("\n".join(["set -e", *script]), myapp, _shell_env(server, APP_LINGER="1"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert _rows(result.stdout, "agent")["Coach.process_message"][2] == "3"
    assert _rows(result.stdout, "create_agent")["Coach"][2] == "3"
    assert _rows(result.stdout, "config")["load_config"][2] == "3"
    assert "loaded config" in result.stdout  # the same unchanged file, three times: said in words


def test_the_pyproject_block_is_read_from_a_sub_folder(server: Any, myapp: Path) -> None:
    """The TOML block as the project's pyproject.toml; the app started one folder down, as the text allows."""
    (myapp / "pyproject.toml").write_text(block("pyproject").text)
    (myapp / ".git").mkdir()  # the repository's root: the search for pyproject.toml stops here
    below = myapp / "scripts"
    below.mkdir()
    env = _shell_env(server, PYTHONPATH=str(myapp))
    result = _bash(f"{BIN / 'otel-agentperf'} run -- {sys.executable} {myapp / 'app.py'}", below, env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "WARNING" not in result.stderr and "Traceback" not in result.stderr
    assert _rows(result.stdout, "agent")["Coach"][2] == "3"  # "agent:Coach": named
    assert _rows(result.stdout, "history")["HistoryManager.get_execution_by_id/read"][2] == "3"
    assert _rows(result.stdout, "history")["HistoryManager.runs_matching/search"][2] == "3"  # "history:search"
    assert "memory peak" in " ".join(_rows(result.stdout, "agent")["Coach"])  # memory = "tracemalloc"


def test_the_prices_block_prices_the_models_it_names(server: Any, tmp_path: Path) -> None:
    """The prices block as the project's pyproject.toml, the quickstart app calling the model it names: the
    JSON report's cost is the local server's usage (words) times those prices, and nothing is unpriced."""
    text = block("pyproject-prices").text
    (tmp_path / "pyproject.toml").write_text(text)
    (tmp_path / ".git").mkdir()
    shutil.copy(APPS / "quickstart" / "app.py", tmp_path / "app.py")
    model = "acme-support-ft"
    input_price, output_price = (
        float(found)
        for found in re.search(rf'"{model}" = {{ input = ([\d.]+), output = ([\d.]+) }}', text).groups()  # type: ignore[union-attr]
    )
    env = _shell_env(server, QUICKSTART_MODEL=model)
    saved = _bash(f"otel-agentperf run --slowest 0 --save run.otlp -- {sys.executable} app.py", tmp_path, env)
    assert saved.returncode == 0, saved.stdout + saved.stderr
    assert "WARNING" not in saved.stderr
    reported = _bash("otel-agentperf report --file run.otlp --format json", tmp_path, env)
    rows = {(op["kind"], op["name"]): op for op in json.loads(reported.stdout)["operations"]}
    row = rows[("llm", f"openai/{model}")]
    assert row["calls"] == 3 and row["unpriced"] == 0 and row["output_tokens"] == 3 * 9  # nine words an answer
    expected = (row["input_tokens"] * input_price + row["output_tokens"] * output_price) / 1e6
    assert row["cost_usd"] == pytest.approx(expected, abs=1e-9)


def test_the_mcp_stdio_block_instruments_its_server_under_run(tmp_path: Path) -> None:
    """The block as the user's client, beside the real tools server, under ``otel-agentperf run``: the
    server's SERVER span is the child of the client's call in one trace. The same client without ``env=``
    (the SDK's default environment) gets no server span: what the text says the argument is for."""
    code = block("mcp-stdio-env").text
    shutil.copy(APPS / "mcp_tools_server.py", tmp_path / "mcp_tools_server.py")
    (tmp_path / "client.py").write_text(code)
    (tmp_path / "bare_client.py").write_text(code.replace(", env={**os.environ}", ""))
    assert (tmp_path / "bare_client.py").read_text() != code
    env = {key: value for key, value in os.environ.items() if not key.startswith(("OTEL_", "COLUMNS", "LINES"))}
    env["PATH"] = f"{BIN}{os.pathsep}{env['PATH']}"
    drawn = {}
    for client in ("client.py", "bare_client.py"):
        result = _bash(f"otel-agentperf run --slowest 5 -- {sys.executable} {client}", tmp_path, env)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "text='5'" in result.stdout and "Traceback" not in result.stderr
        waterfalls = result.stdout.split("Slowest traces", 1)[1].splitlines()
        at = next(line for line in waterfalls if line.rstrip().endswith(" bar")).index(" span") + 1  # the span column
        drawn[client] = [line[at:].split("  |")[0].rstrip() for line in waterfalls if "tools/call" in line[at:]]
    assert drawn["client.py"] == ["tools/call add", "  tools/call add"]  # client span, server span under it
    assert drawn["bare_client.py"] == ["tools/call add"]


def test_the_in_code_block_records_what_its_comments_say(recorded: Recorded) -> None:
    code = block("in-code").text
    namespace: dict[str, Any] = {}
    exec(compile(code, "README.md", "exec"), namespace)
    coach = namespace["Coach"]()
    asyncio.run(coach.process_message("hi"))
    coach.search("shoes")
    namespace["Planner"]()
    namespace["load_settings"]("settings.yaml")
    namespace["get_execution_by_id"]("run-1")
    asyncio.run(namespace["handle"](None))
    namespace["score"]([])
    made = {span.name for span in recorded.spans()}
    promised = set(re.findall(r"# ((?:invoke_agent|execute_tool|create_agent|load_config|history_\w+) \w+)", code))
    assert len(promised) == 5 and promised <= made
    segments = set(re.findall(r'segment\("(\w+)"\)', code))
    assert segments == {"retrieve", "rank", "score"}
    assert all(any(segment in name for name in made) for segment in segments)


def test_the_initialize_block_sets_up_what_the_launcher_would(tmp_path: Path) -> None:
    """The one-call set-up, then a YAML load: the PyYAML instrumentor applied, the span exported."""
    (tmp_path / "settings.yaml").write_text("model: m\n")
    program = block("initialize").text + "\nimport yaml\n\nyaml.safe_load(open('settings.yaml'))\n"
    env = {key: value for key, value in os.environ.items() if not key.startswith("OTEL_")}
    env.update(OTEL_TRACES_EXPORTER="console", OTEL_METRICS_EXPORTER="none", OTEL_LOGS_EXPORTER="none")
    result = subprocess.run(
        [sys.executable, "-c", program], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert '"name": "load_config yaml.load"' in result.stdout


def _layout_items(text: str) -> list[tuple[str, str]]:
    """(folder, item) for every module, folder or attribute the picture names; prose in parentheses left out."""
    items, folder = [], ""
    for line in text.splitlines():
        if line.strip().startswith(("│", "(")):
            continue
        heading = re.match(r" (\w+)/\s+(.*)", line)
        if heading:
            folder, line = heading.group(1), heading.group(2)
        for item in re.split(r"·|,|──>", re.sub(r"\([^)]*\)?", "", line)):
            if item.strip():
                items.append((folder, item.split()[0]))
    return items


def test_the_architecture_picture_names_only_what_exists() -> None:
    items = _layout_items(block("layout").text)
    assert len(items) > 40
    for folder, item in items:
        base = ROOT / "instrumentation" if folder == "instrumentation" else ROOT / "otel_agentperf" / folder
        module, _, attribute = item.rstrip("/").partition(".")
        assert (base / f"{module}.py").is_file() or (base / module).is_dir(), f"{folder}/{item}"
        if attribute:
            found = importlib.import_module(f"otel_agentperf.{folder}.{module}")
            pattern = re.escape(attribute).replace(r"<Kind>", r"\w+")
            names = [name for name in dir(found) if re.fullmatch(pattern.split(r"\.")[0], name)]
            assert names, f"{folder}/{item}"
            for part in attribute.split(".")[1:]:
                assert hasattr(getattr(found, names[0]), part), f"{folder}/{item}"
    # and the text around the picture names every module of every folder in it
    text = (ROOT / "docs" / "architecture.md").read_text()
    for folder in {folder for folder, _ in items}:
        base = ROOT / "instrumentation" if folder == "instrumentation" else ROOT / "otel_agentperf" / folder
        for module in base.glob("*.py"):
            if module.stem != "__init__":
                assert re.search(rf"\b{module.stem}\b", text), f"architecture.md never names {folder}/{module.name}"


# What each layer may import besides the layers above it in the picture (architecture.md says why).
_NARROWER = {
    "receiving": {"conventions", "receiving"},
    "stack": {"conventions", "stack"},
    "views": {"conventions", "runtime", "receiving", "views"},
}


def _imported(path: Path) -> set[str]:
    """The package's modules ``path`` imports, at its top or inside a function."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
            if node.module == "otel_agentperf":
                found.update(f"otel_agentperf.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {name for name in found if name.startswith("otel_agentperf.")}


def test_each_layer_imports_only_what_the_picture_allows() -> None:
    order = [folder for folder, _ in _layout_items(block("layout").text)]
    layers = list(dict.fromkeys(order))  # the folders, top to bottom
    broken = []
    for index, layer in enumerate(layers):
        base = ROOT / "instrumentation" if layer == "instrumentation" else ROOT / "otel_agentperf" / layer
        allowed = _NARROWER.get(layer, set(layers[: index + 1]))
        for path in sorted(base.rglob("*.py")):
            for module in _imported(path):
                target = module.split(".")[1]
                if target in layers and target not in allowed:
                    broken.append(f"{path.relative_to(ROOT)} imports {module}")
    assert layers[0] == "conventions" and layers[-1] == "command", layers
    assert not broken, broken


def _subcommands() -> dict[str, Any]:
    parser = cli._parser()
    (action,) = [a for a in parser._actions if a.dest == "command"]
    return dict(action.choices)


@functools.cache
def _pytest_help() -> str:
    return subprocess.run([sys.executable, "-m", "pytest", "--help"], capture_output=True, text=True).stdout


def test_every_command_in_the_prose_is_one_the_cli_or_the_repository_has() -> None:
    """Inline commands: our CLI's (each option exists; a complete command parses), scripts and benchmarks."""
    subcommands = _subcommands()
    checked = 0
    for span in code_spans():
        words = span.text.split()
        where = f"{span.path.name}:{span.line}: `{span.text}`"
        if span.text in NOT_COMMANDS or not words:
            continue
        if words[0] == "otel-agentperf" and len(words) > 1 and not words[1].startswith("-"):
            assert words[1] in subcommands, where
            options = subcommands[words[1]]._option_string_actions
            flags = [word.strip("[]").split("=")[0] for word in words if word.strip("[]").startswith("--")]
            flags = [flag for flag in flags if flag != "--"]  # the end of run's options
            assert all(flag in options for flag in flags), where
            usage = re.search(r"[\[\]|]|\b[A-Z_]{3,}\b|--help|--version", span.text)
            if not usage:  # a complete command, not a usage line or a request for help
                placeholder = {"DIR": "out"}
                subcommands[words[1]].parse_args([placeholder.get(word, word) for word in words[2:]])
            checked += 1
        elif re.match(r"(\./)?(scripts|benchmarks)/\S+\.(sh|py)$", words[-1] if words[0] == "python" else words[0]):
            script = ROOT / (words[1] if words[0] == "python" else words[0]).removeprefix("./")
            assert script.is_file(), where
            source = script.read_text()
            if re.search(r'-m pytest .*"\$@"', source):  # its extra arguments go to pytest
                source += _pytest_help()
            assert all(word.split("=")[0] in source for word in words if word.startswith("--")), where
            checked += 1
    assert checked >= 20
