"""The release path: docs/release.md's build and check, then the README's Install, then the quickstart.

In a new virtual environment and from a copy of the checkout's tracked files (what a fresh clone holds,
so nothing built or left beside them can help), the block of docs/release.md builds the sdist and the
wheel with ``python -m build`` and checks them with ``twine check --strict``; the README's Install block
installs the wheel. Their commands run as written, pip resolving at the locks' versions (``PIP_CONSTRAINT``):
what is adapted is the environment, never a command. Then, with nothing of the checkout on the path, the
quickstart's first command reports on the user's app, and ``otel-agentperf grafana`` writes what the
repository's ``grafana/`` folder holds: what a user gets from the wheel alone.
"""

from __future__ import annotations

import configparser
import email.parser
import os
import re
import shutil
import subprocess
import sys
import tarfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import tomli
from packaging.requirements import Requirement

from otel_agentperf.version import __version__
from tests.doc_blocks import ROOT, block, commands, run

pytestmark = pytest.mark.repeat(1)  # one new environment is enough: it shares nothing with this process

UV = shutil.which("uv", path=str(Path(sys.executable).parent))
PRICED_MODEL = "gpt-4o-mini"  # in the packaged price table, so the report prices it from the wheel's data
ABSENT = ("yaml", "langchain_core", "langgraph", "dspy", "anthropic", "litellm", "mcp", "agent_framework", "agents")
WHEEL = f"otel_agentperf-{__version__}-py3-none-any.whl"
SDIST = f"otel_agentperf-{__version__}.tar.gz"


@dataclass(frozen=True)
class Released:
    """What the documented commands made: the copy they ran in, its dist/, the venv and what each printed."""

    checkout: Path
    venv: Path
    env: dict[str, str]
    outputs: dict[str, str]

    @property
    def dist(self) -> Path:
        return self.checkout / "dist"


def _fresh_clone(destination: Path) -> Path:
    """The checkout's tracked files as they are in its work tree (edits included, untracked files not)."""
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    for name in listed.decode().split("\0"):
        if name and (ROOT / name).is_file():
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, destination / name)
    return destination


def _constraints() -> str:
    """The main lock, then what the build back end's lock adds (a package both pin is the main lock's)."""
    main = (ROOT / "requirements" / "test.lock").read_text()
    pinned = {line.split("==")[0] for line in main.splitlines() if "==" in line}
    build = (ROOT / "requirements" / "build.lock").read_text().splitlines()
    return main + "".join(f"{line}\n" for line in build if "==" in line and line.split("==")[0] not in pinned)


@pytest.fixture(scope="module")
def released(tmp_path_factory: pytest.TempPathFactory) -> Released:
    assert UV is not None, "uv is in the lock; scripts/test.sh installs it"
    base = tmp_path_factory.mktemp("release")
    checkout = _fresh_clone(base / "otel-agentperf")
    venv = base / "venv"
    subprocess.run([UV, "venv", "--quiet", "--seed", "--python", sys.executable, venv], check=True, timeout=120)
    constraints = base / "constraints.txt"  # the locks, for pip and for build's isolated build environment
    constraints.write_text(_constraints())
    env = {key: value for key, value in os.environ.items() if not key.startswith(("OTEL_", "PYTHON", "VIRTUAL_ENV"))}
    env.update(PATH=f"{venv / 'bin'}{os.pathsep}{env['PATH']}", VIRTUAL_ENV=str(venv), PIP_CONSTRAINT=str(constraints))
    lines = commands(block("release-check").text)
    lines += [line for line in commands(block("install").text) if line not in lines]  # `python -m build` once
    started = time.monotonic()
    outputs = dict(zip(lines, run(lines, checkout, env), strict=True))
    print(f"the documented build, check and install: {time.monotonic() - started:.1f} s")
    run(["python -m pip install --quiet openai"], checkout, env)  # the user's app's own dependency
    return Released(checkout, venv, env, outputs)


def _said(released: Released, start: str) -> str:
    (found,) = [output for line, output in released.outputs.items() if line.startswith(start)]
    return found


def test_the_release_check_builds_a_wheel_with_what_the_package_needs(released: Released) -> None:
    assert sorted(path.name for path in released.dist.iterdir()) == [WHEEL, SDIST]
    checked = _said(released, "python -m twine check")
    assert re.findall(r"Checking dist/(\S+): \S*PASSED", checked) == [WHEEL, SDIST]
    assert "WARNING" not in checked
    wheel = zipfile.ZipFile(released.dist / WHEEL)
    names = set(wheel.namelist())
    info = f"otel_agentperf-{__version__}.dist-info"
    assert {f"otel_agentperf/data/{name}" for name in ("prices.toml", "report.css", "report.js")} <= names
    assert {"otel_agentperf/py.typed", "otel_agentperf/instrumentation/llm/openai_sdk.py"} <= names
    assert all(name.startswith(("otel_agentperf/", f"{info}/")) for name in names)  # no tests/, examples/ ...
    assert wheel.read(f"{info}/licenses/LICENSE") == (ROOT / "LICENSE").read_bytes()

    project = tomli.loads((ROOT / "pyproject.toml").read_text())["project"]
    metadata = email.parser.Parser().parsestr(wheel.read(f"{info}/METADATA").decode())
    assert (metadata["Name"], metadata["Version"], metadata["License-Expression"]) == (
        "otel-agentperf",
        __version__,
        "Apache-2.0",
    )
    assert metadata["Description-Content-Type"] == "text/markdown"
    assert metadata.get_payload() == (ROOT / project["readme"]).read_text()  # what PyPI shows
    required = [Requirement(text) for text in metadata.get_all("Requires-Dist")]
    assert sorted(str(r) for r in required if "extra" not in str(r.marker)) == sorted(
        str(Requirement(text)) for text in project["dependencies"]
    )
    entry_points = configparser.ConfigParser(delimiters=("=",))
    entry_points.optionxform = str  # type: ignore[assignment,method-assign]
    entry_points.read_string(wheel.read(f"{info}/entry_points.txt").decode())
    declared = {"console_scripts": project["scripts"], **project["entry-points"]}
    assert {group: dict(entry_points[group]) for group in entry_points.sections()} == declared

    with tarfile.open(released.dist / SDIST) as sdist:
        shipped = {name.split("/", 1)[1] for name in sdist.getnames() if "/" in name}
    assert {"pyproject.toml", "LICENSE", project["readme"], "otel_agentperf/version.py"} <= shipped
    assert {"otel_agentperf/data/prices.toml", "otel_agentperf/data/report.js"} <= shipped


def test_a_new_environment_gets_its_first_report_from_the_quickstart(server: Any, released: Released) -> None:
    first = commands(block("quickstart").text)[0]
    assert first.startswith("otel-agentperf run -- python app.py")
    app = released.venv.parent / "app"
    app.mkdir()
    shutil.copy(ROOT / "tests" / "apps" / "quickstart" / "app.py", app / "app.py")
    env = {**released.env, "OPENAI_BASE_URL": server.base_url, "OPENAI_API_KEY": "k", "QUICKSTART_MODEL": PRICED_MODEL}
    where, version = run(
        ["python -c 'import otel_agentperf; print(otel_agentperf.__file__)'", "otel-agentperf --version"], app, env
    )
    assert Path(where.strip()).is_relative_to(released.venv)  # the wheel's files, not the checkout's
    assert version == f"otel-agentperf {__version__}\n"
    server.requests.pop(PRICED_MODEL, None)
    started = time.monotonic()
    result = subprocess.run(["bash", "-c", first], cwd=app, env=env, capture_output=True, text=True, timeout=240)
    print(f"the first report: {time.monotonic() - started:.1f} s")

    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("answered 3 questions\n")
    rows = [line.split() for line in result.stdout.splitlines() if line.startswith("llm ")]
    assert [(row[1], row[2]) for row in rows] == [(f"openai/{PRICED_MODEL}", "3")]
    assert "$" in " ".join(rows[0]) and "unpriced" not in result.stdout  # priced by the wheel's table
    assert "Slowest traces" in result.stdout
    assert result.stderr == "", result.stderr  # no instrumentor of an absent library says a word
    (frameworks,) = run(
        [f'python -c "import importlib.util as u; print([m for m in {ABSENT!r} if u.find_spec(m)])"'], app, env
    )
    assert frameworks.strip() == "[]"  # what was installed is only what the package needs


def test_the_installed_wheel_writes_the_repositorys_grafana_folder(released: Released) -> None:
    out = released.venv.parent / "observability"
    run([f"otel-agentperf grafana {out}"], released.venv.parent, released.env)
    written = {path.relative_to(out): path.read_bytes() for path in out.rglob("*") if path.is_file()}
    repository = {
        path.relative_to(ROOT / "grafana"): path.read_bytes()
        for path in (ROOT / "grafana").rglob("*")
        if path.is_file()
    }
    assert len(written) >= 7 and written == repository  # dashboards, provisioning and alert rules


def test_the_changelog_starts_at_the_version_the_package_defines_once() -> None:
    """One version, in otel_agentperf/version.py; the changelog's oldest entry is the first release."""
    project = tomli.loads((ROOT / "pyproject.toml").read_text())
    assert "version" not in project["project"] and project["project"]["dynamic"] == ["version"]
    assert project["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "otel_agentperf.version.__version__"}
    changelog = (ROOT / "CHANGELOG.md").read_text()
    sections = re.findall(r"^## \[([^\]]+)\]", changelog, re.M)
    released = [section for section in sections if section != "Unreleased"]
    assert sections[0] in ("Unreleased", __version__)
    assert (released or re.findall(r"^The first release, to be (\d+\.\d+\.\d+)\.", changelog, re.M))[-1] == "0.1.0"
