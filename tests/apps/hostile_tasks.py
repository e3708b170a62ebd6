"""Functions the host-safety tests target: pool tasks, recursion, re-entry into what the package uses."""

from __future__ import annotations

import re


def square(x: int) -> int:
    return x * x


def depth(reached: int = 0) -> int:
    """How deep this function recurses before the interpreter's limit stops it."""
    try:
        return depth(reached + 1)
    except RecursionError:
        return reached


def words(text: str) -> int:
    return len(re.compile(r"\w+").findall(text))
