"""The tutor's tools: the exercise bank and the hint lookup."""

from __future__ import annotations

import asyncio

EXERCISES = ["fractions", "percentages", "ratios", "equations", "area", "volume"]


async def next_exercise(topic: str, turn: int) -> str:
    await asyncio.sleep(0.005)  # the exercise bank
    return f"exercise {turn} on {topic}: {EXERCISES[turn % len(EXERCISES)]}"


def hint_for(exercise: str) -> str:
    return f"hint: start from the definition of {exercise.rsplit(' ', 1)[-1]}"
