"""A real terminal for the live views' tests: tmux, its screen, and waiting for text to appear on it."""

from __future__ import annotations

import shutil
import subprocess
import time


def tmux() -> str:
    found = shutil.which("tmux")
    assert found, "tmux is needed for the live-view tests (scripts/test.sh installs it)"
    return found


def screen(binary: str, session: str, history: int = 0) -> str:
    """What the pane shows, with ``history`` lines scrolled off above it."""
    command = [binary, "capture-pane", "-p", "-t", session, *(["-S", f"-{history}"] if history else [])]
    return subprocess.run(command, capture_output=True, text=True).stdout


def wait_for(binary: str, session: str, text: str, timeout: float = 20.0, history: int = 0) -> str:
    deadline = time.monotonic() + timeout
    shown = ""
    while time.monotonic() < deadline:
        shown = screen(binary, session, history)
        if text in shown:
            return shown
        time.sleep(0.2)
    raise AssertionError(f"{text!r} never appeared; screen was:\n{shown}")
