"""The code blocks of README.md and docs/*.md, each with the marker that says which test runs it.

A fenced block is followed, on the next line, by an HTML comment that Markdown renders as nothing:
``<!-- doc-test: ID -->`` when a test runs it (the test asks for it with ``block("ID")``, so the text it
runs is the doc's own, never a copy), or ``<!-- not runnable here: WHY -->`` (also spelled ``not run
here``) when it cannot run on this machine. ``tests/test_docs_truth.py`` holds every block, and every
``block("ID")`` in the tests, to that (``unaccounted``). The marker follows the block rather than preceding
it so that the README still opens with its commands. ``run`` runs a block's commands the one way every
test does: each in bash, in order, the first that fails named with its output.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from markdown_it import MarkdownIt

ROOT = Path(__file__).resolve().parent.parent
DOCS = (ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")))
_MARKER = re.compile(r"<!--\s*(doc-test|not run(?:nable)? here):\s*(.*?)\s*-->")
NOT_RUN = "not runnable here"


@dataclass(frozen=True)
class Block:
    path: Path
    line: int  # 1-based line of the opening fence
    language: str
    text: str
    marker: str  # "doc-test", NOT_RUN or "" (none)
    value: str  # the ID, or why it is not run

    def where(self) -> str:
        return f"{self.path.relative_to(ROOT) if self.path.is_relative_to(ROOT) else self.path}:{self.line}"


@dataclass(frozen=True)
class Span:
    """An inline code span of the prose, where the docs name a command."""

    path: Path
    line: int
    text: str


@cache
def _tokens(path: Path) -> tuple[list[str], list]:  # type: ignore[type-arg]
    text = path.read_text()
    return text.splitlines(), MarkdownIt("commonmark").parse(text)


def blocks(paths: Iterable[Path] = DOCS) -> list[Block]:
    found = []
    for path in paths:
        lines, tokens = _tokens(path)
        for token in tokens:
            if token.type != "fence" or token.map is None:
                continue
            after = lines[token.map[1]] if token.map[1] < len(lines) else ""
            match = _MARKER.fullmatch(after.strip())
            marker, value = (match.group(1), match.group(2)) if match else ("", "")
            marker = NOT_RUN if marker.startswith("not run") else marker
            found.append(Block(path, token.map[0] + 1, token.info.strip(), token.content, marker, value))
    return found


def unaccounted(found: list[Block], requested: set[str]) -> list[str]:
    """What breaks the rule, each in a line: a block with no marker, a reason too short to be one, two blocks
    of one ID, a marker no test asks for, a test asking for a block no doc has."""
    problems = [f"{b.where()}: no marker" for b in found if not b.marker]
    problems += [f"{b.where()}: say why" for b in found if b.marker == NOT_RUN and len(b.value.split()) < 5]
    ids = [b.value for b in found if b.marker == "doc-test"]
    problems += [f"two blocks are {i}" for i in sorted({i for i in ids if ids.count(i) > 1})]
    problems += [f"no test runs {i}" for i in sorted(set(ids) - requested)]
    problems += [f"no doc has {i}" for i in sorted(requested - set(ids))]
    return problems


class CommandFailed(AssertionError):
    """A documented command that failed: the line as the doc has it, then what it printed."""


def run(lines: Iterable[str], cwd: Path, env: dict[str, str], timeout: float = 300) -> list[str]:
    """Run each command in bash, in order, in ``cwd``; their outputs, or ``CommandFailed`` at the first that
    exits non-zero (or prints a traceback), naming it."""
    outputs = []
    for line in lines:
        result = subprocess.run(["bash", "-c", line], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
        if result.returncode != 0 or "Traceback (most recent call last)" in result.stderr:
            raise CommandFailed(f"{line}\nexit {result.returncode}\n{result.stdout}{result.stderr}")
        outputs.append(result.stdout)
    return outputs


def block(identifier: str) -> Block:
    """The one block whose marker is ``<!-- doc-test: identifier -->``."""
    (found,) = [b for b in blocks() if b.marker == "doc-test" and b.value == identifier]
    return found


def code_spans() -> list[Span]:
    found = []
    for path in DOCS:
        _, tokens = _tokens(path)
        for token in tokens:
            if token.type == "inline" and token.map is not None:
                for child in token.children or []:
                    if child.type == "code_inline":
                        found.append(Span(path, token.map[0] + 1, child.content))
    return found


def commands(text: str) -> list[str]:
    """The shell commands of a block: one per line, comments and continuation lines joined."""
    joined = re.sub(r"\\\n\s*", " ", text)
    return [line.split("  #")[0].strip() for line in joined.splitlines() if line.strip() and not line.startswith("#")]
