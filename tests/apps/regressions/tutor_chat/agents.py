"""The tutor's agents: the tutor explains each exercise (keeping the lesson's history), a grader checks."""

from __future__ import annotations

import openai
from appkit import charge_usage, timing
from openai.types.chat import ChatCompletionMessageParam

from tutor_chat import settings

SYSTEM = "You are a patient maths tutor for a ten year old, explain step by step."


class Tutor:
    def __init__(self, client: openai.AsyncOpenAI) -> None:
        self.client = client
        self.history: list[ChatCompletionMessageParam] = []

    async def explain(self, exercise: str, hint: str) -> str:
        question: ChatCompletionMessageParam = {"role": "user", "content": f"explain {exercise} ({hint})"}
        earlier = self.history if settings.FULL_HISTORY else self.history[-2:]
        messages: list[ChatCompletionMessageParam] = [{"role": "system", "content": SYSTEM}, *earlier, question]
        with timing():  # the app's own bookkeeping of what the tutor model costs a lesson
            response = await self.client.chat.completions.create(model=settings.TUTOR_MODEL, messages=messages)
        charge_usage(response.usage, settings.TUTOR_PRICES)
        answer = str(response.choices[0].message.content)
        self.history += [question, {"role": "assistant", "content": answer}]
        return answer


class Grader:
    def __init__(self, client: openai.AsyncOpenAI) -> None:
        self.client = client

    async def grade(self, exercise: str, explanation: str) -> str:
        response = await self.client.chat.completions.create(
            model="slow-15-grader-mini",
            messages=[{"role": "user", "content": f"is this right for {exercise}: {explanation[:80]}"}],
        )
        return str(response.choices[0].message.content)
