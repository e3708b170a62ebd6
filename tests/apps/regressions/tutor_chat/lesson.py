"""One lesson (a request): a few exercises on a topic, each explained by the tutor; the grader checks the last."""

from __future__ import annotations

import openai

from tutor_chat import settings
from tutor_chat.agents import Grader, Tutor
from tutor_chat.tools import hint_for, next_exercise


async def run_lesson(client: openai.AsyncOpenAI, topic: str) -> str:
    tutor = Tutor(client)  # a tutor per lesson: its history is the lesson's
    exercise, explanation = "", ""
    for turn in range(settings.TURNS):
        exercise = await next_exercise(topic, turn)
        explanation = await tutor.explain(exercise, hint_for(exercise))
    return await Grader(client).grade(exercise, explanation)
