"""The indexer's tools: a related-document search (an index lookup that only yields to the loop), a
tokenizer and a scorer that works in short CPU steps, yielding between them "to stay responsive"."""

from __future__ import annotations

import asyncio

from appkit import Stopwatch

SCORE_STEPS = 6
SCORE_ROUNDS = 3000  # a step: a few hundred microseconds of CPU, far below a block, far above a task switch
QUEUED = Stopwatch()  # every await of the tools: sleep(0) awaits nothing, so each is a wait for a turn on the loop
SCORING = Stopwatch()  # the scorer's CPU steps


def _crunch(seed: int, rounds: int = 400) -> int:
    total = 0
    for i in range(rounds):
        total = (total * 31 + i * seed) % 1_000_003
    return total


async def search(document: str) -> list[str]:
    with QUEUED.timing():
        await asyncio.sleep(0)
    return [document[:12]]


def tokenize(document: str) -> list[str]:
    _crunch(len(document))
    return document.split()


async def score(tokens: list[str]) -> int:
    total = 0
    for step in range(SCORE_STEPS):
        with SCORING.timing():
            total += _crunch(len(tokens) + step, SCORE_ROUNDS)
        with QUEUED.timing():
            await asyncio.sleep(0)
    return total
