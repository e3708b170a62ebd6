"""scripts/test.sh runs every check stage even when one fails, then names the failed ones and exits non-zero."""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_a_failing_stage_does_not_stop_the_stages_after_it() -> None:
    """The stage runner test.sh sources, under test.sh's own shell options, with real failing commands."""
    script = """
        set -euo pipefail
        source scripts/stages.sh
        stage "lint" false
        stage "oldest sdk" sh -c 'echo oldest ran'
        stage "python 3.13" sh -c 'echo py313 ran; exit 3'
        stage "after" sh -c 'echo after ran'
        stages_summary
        echo not reached
    """
    result = subprocess.run(["bash", "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert result.stdout.split() == ["oldest", "ran", "py313", "ran", "after", "ran"]
    assert "2 stage(s) failed:\n  lint (exit 1)\n  python 3.13 (exit 3)\n" in result.stderr


def test_all_stages_passing_exits_zero() -> None:
    script = 'set -euo pipefail; source scripts/stages.sh; stage "one" true; stage "two" true; stages_summary'
    result = subprocess.run(["bash", "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and "every stage passed" in result.stderr


def test_every_check_in_test_sh_is_a_stage() -> None:
    """After its set-up, each command test.sh runs (ruff, mypy, every pytest) goes through `stage`."""
    lines = (ROOT / "scripts" / "test.sh").read_text().splitlines()
    checks = lines[lines.index("source scripts/stages.sh") + 1 :]
    commands = [line.strip() for line in checks if line.strip() and not line.strip().startswith("#")]
    loop_syntax = {"done", "stages_summary"}
    runs = [line for line in commands if not line.startswith("for ") and line not in loop_syntax]
    assert runs and all(line.startswith("stage ") for line in runs), runs
    for tool in ("ruff check", "ruff format", "mypy", "--count 2", "openai-oldest", "litellm-oldest", "$core_tests"):
        assert any(tool in line for line in runs), tool
    assert commands[-1] == "stages_summary"
