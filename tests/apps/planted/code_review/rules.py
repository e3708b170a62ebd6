"""The team's review rules, rendered into the reviewer's system prompt for every language it reviews."""

from __future__ import annotations

LANGUAGES = ["python", "typescript", "go", "rust", "java", "kotlin", "sql", "bash"]
CHECKS = [
    "names say what a value is, not its type",
    "errors are handled where they can be acted on",
    "public functions have a docstring",
    "no commented-out code",
    "tests cover the change",
    "no secrets in the diff",
    "logging has context, not prints",
    "timeouts on every network call",
]
RULES = [(f"R{number:04d}", CHECKS[number % len(CHECKS)]) for number in range(2400)]
