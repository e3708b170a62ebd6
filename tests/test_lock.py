"""The test environment is the lock: exactly its packages at its versions, and the lock matches pyproject.toml.

The first check fails in any environment that was not built from ``requirements/test.lock`` (the drift run
deselects it); the second regenerates the locks with uv from a copy of the checkout and needs the package
index, as the install that preceded it did.
"""

from __future__ import annotations

import importlib.metadata
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.doc_blocks import block, commands

ROOT = Path(__file__).resolve().parent.parent
LOCKS = sorted((ROOT / "requirements").glob("*.lock"))
# What `python -m venv` seeds before the lock is synced; never imported by the tests.
VENV_SEEDS = {"pip", "setuptools"}


def _pins(lock: Path) -> dict[str, str]:
    """Package name to version for the pins of ``lock`` that apply to this interpreter."""
    pins = {}
    for line in lock.read_text().splitlines():
        if line and not line.startswith((" ", "#", "-")):
            requirement = Requirement(line)
            if requirement.marker is None or requirement.marker.evaluate():
                (specifier,) = requirement.specifier
                pins[canonicalize_name(requirement.name)] = specifier.version
    return pins


def test_the_environment_holds_exactly_the_locked_packages() -> None:
    installed = {
        canonicalize_name(dist.metadata["Name"]): dist.version
        for dist in importlib.metadata.distributions(path=[p for p in sys.path if p.endswith("site-packages")])
    }
    installed.pop("otel-agentperf")
    for seed in VENV_SEEDS:
        installed.pop(seed, None)
    assert installed == _pins(ROOT / "requirements" / "test.lock")


def test_side_locks_differ_from_the_main_lock_only_in_what_they_add() -> None:
    main = _pins(ROOT / "requirements" / "test.lock")
    oldest = _pins(ROOT / "requirements" / "openai-oldest.lock")
    assert {name for name in oldest if oldest[name] != main.get(name)} == {"openai", "httpx"}
    framework = _pins(ROOT / "requirements" / "agent-framework-oldest.lock")
    assert {name for name in framework if framework[name] != main.get(name)} == {"agent-framework-core"}
    litellm = _pins(ROOT / "requirements" / "litellm-oldest.lock")
    assert {name for name in litellm if litellm[name] != main.get(name)} == {"litellm"}
    contrib = _pins(ROOT / "requirements" / "contrib-openai-v2.lock")
    assert {name for name in contrib if contrib[name] != main.get(name)} == {
        "opentelemetry-instrumentation-openai-v2",
        "opentelemetry-util-genai",
    }


@pytest.mark.repeat(1)  # uv resolves afresh in a new process each time: once under --count 2 (CI time)
def test_the_locks_are_what_scripts_lock_sh_makes_of_pyproject_toml(tmp_path: Path) -> None:
    uv = shutil.which("uv", path=str(Path(sys.executable).parent))
    assert uv is not None, "uv is in the lock; scripts/test.sh installs it"
    for part in ("pyproject.toml", "scripts/lock.sh", "requirements"):
        source, copy = ROOT / part, tmp_path / part
        copy.parent.mkdir(parents=True, exist_ok=True)
        shutil.copytree(source, copy) if source.is_dir() else shutil.copy2(source, copy)
    # The README's command as written, in the copy, whose .venv is this one.
    (tmp_path / ".venv").symlink_to(Path(uv).parent.parent)
    (command,) = commands(block("lock").text)
    subprocess.run(["bash", "-c", command], cwd=tmp_path, check=True, timeout=300, capture_output=True)
    for lock in LOCKS:
        assert (tmp_path / "requirements" / lock.name).read_text() == lock.read_text(), (
            f"requirements/{lock.name} is stale: run scripts/lock.sh"
        )
