"""The code blocks of README.md and docs/*.md, each with the marker that says which test runs it.

A fenced block is followed, on the next line, by an HTML comment that Markdown renders as nothing:
``<!-- doc-test: ID -->`` when a test runs it (the test asks for it with ``block("ID")``, so the text it
runs is the doc's own, never a copy), or ``<!-- not run here: WHY -->`` when it cannot run on this
machine. ``tests/test_docs_truth.py`` holds every block, and every ``block("ID")`` in the tests, to that.
The marker follows the block rather than preceding it so that the README still opens with its commands.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from markdown_it import MarkdownIt

ROOT = Path(__file__).resolve().parent.parent
DOCS = (ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")))
_MARKER = re.compile(r"<!--\s*(doc-test|not run here):\s*(.*?)\s*-->")


@dataclass(frozen=True)
class Block:
    path: Path
    line: int  # 1-based line of the opening fence
    language: str
    text: str
    marker: str  # "doc-test", "not run here" or "" (none)
    value: str  # the ID, or why it is not run

    def where(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"


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


def blocks() -> list[Block]:
    found = []
    for path in DOCS:
        lines, tokens = _tokens(path)
        for token in tokens:
            if token.type != "fence" or token.map is None:
                continue
            after = lines[token.map[1]] if token.map[1] < len(lines) else ""
            match = _MARKER.fullmatch(after.strip())
            marker, value = (match.group(1), match.group(2)) if match else ("", "")
            found.append(Block(path, token.map[0] + 1, token.info.strip(), token.content, marker, value))
    return found


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
