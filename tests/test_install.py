"""``pip install otel-agentperf``, then the quickstart's first command, in a new virtual environment.

The package is built from this checkout into a wheel (it is not on PyPI yet) and installed with what it
depends on, and nothing else but the OpenAI SDK the user's app imports: no framework, no PyYAML, none of
the test tools. Installed by uv at the lock's versions, so mostly from its cache (it needs the package
index, as the install that preceded it did); ``pip install`` resolves the same requirements. Then the
user's app runs under ``otel-agentperf run`` exactly as the README's quickstart says, and every
instrumentor whose library is absent stays silent.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from typing import Any

import pytest

from tests.doc_blocks import ROOT, block, commands

pytestmark = pytest.mark.repeat(1)  # one new environment is enough: it shares nothing with this process

UV = shutil.which("uv", path=str(Path(sys.executable).parent))
MODEL = "slow-20-quickstart"
ABSENT = ("yaml", "langchain_core", "langgraph", "dspy", "anthropic", "litellm", "mcp", "agent_framework", "agents")


def test_a_new_environment_gets_its_first_report_from_the_quickstart(server: Any, tmp_path: Path) -> None:
    assert UV is not None, "uv is in the lock; scripts/test.sh installs it"
    install, first = commands(block("quickstart").text)[:2]
    assert install == "pip install otel-agentperf" and first.startswith("otel-agentperf run -- python app.py")
    started = time.monotonic()
    dist, venv = tmp_path / "dist", tmp_path / "venv"
    quiet = ["--quiet"]
    subprocess.run(
        [UV, "build", *quiet, "--wheel", "--out-dir", dist, "--build-constraints", "requirements/build.lock"],
        cwd=ROOT,
        check=True,
        timeout=300,
    )
    (wheel,) = dist.glob("*.whl")
    shipped = zipfile.ZipFile(wheel).namelist()
    assert {"otel_agentperf/data/report.css", "otel_agentperf/data/report.js"} <= set(shipped)  # the HTML report's
    subprocess.run([UV, "venv", *quiet, "--python", sys.executable, venv], check=True, timeout=120)
    python = venv / "bin" / "python"
    sources = ["--find-links", dist, "--constraints", ROOT / "requirements" / "test.lock"]
    subprocess.run(
        # the package, and the user's app's own dependency
        [UV, "pip", "install", *quiet, "--python", python, *sources, "otel-agentperf", "openai"],
        check=True,
        timeout=300,
    )
    installed = time.monotonic()

    app = tmp_path / "app"
    app.mkdir()
    shutil.copy(ROOT / "tests" / "apps" / "quickstart" / "app.py", app / "app.py")
    env = {key: value for key, value in os.environ.items() if not key.startswith(("OTEL_", "PYTHON"))}
    env.update(PATH=f"{venv / 'bin'}{os.pathsep}{env['PATH']}", OPENAI_BASE_URL=server.base_url, OPENAI_API_KEY="k")
    env.pop("VIRTUAL_ENV", None)
    server.requests.pop(MODEL, None)
    result = subprocess.run(["bash", "-c", first], cwd=app, env=env, capture_output=True, text=True, timeout=240)
    reported = time.monotonic()

    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("answered 3 questions\n")
    rows = [line.split() for line in result.stdout.splitlines() if line.startswith("llm ")]
    assert [(row[1], row[2]) for row in rows] == [(f"openai/{MODEL}", "3")]
    assert "Slowest traces" in result.stdout
    assert result.stderr == "", result.stderr  # no instrumentor of an absent library says a word
    frameworks = subprocess.run(
        [python, "-c", f"import importlib.util as u; print([m for m in {ABSENT!r} if u.find_spec(m)])"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert frameworks.stdout.strip() == "[]"  # what was installed is only what the package needs
    print(f"install {installed - started:.1f} s, then the first report {reported - installed:.1f} s")
