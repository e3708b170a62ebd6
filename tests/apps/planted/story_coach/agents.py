"""A writing coach: a conversation that sends its whole history every turn, and a title model beside it."""

from __future__ import annotations

import time

import openai

COACH_MODEL = "prefill-600-story-coach"  # reads its prompt: a longer prompt answers later
EXCESS_SECONDS: list[float] = []  # per later turn: its time beyond the conversation's first turn


class Coach:
    def __init__(self, client: openai.AsyncOpenAI) -> None:
        self.client = client

    async def session(self, draft: str, turns: int) -> str:
        messages: list[dict[str, str]] = [{"role": "user", "content": f"coach me on: {draft}"}]
        first = 0.0
        answer = ""
        for turn in range(turns):
            start = time.perf_counter()
            response = await self.client.chat.completions.create(model=COACH_MODEL, messages=messages)  # type: ignore[arg-type]
            took = time.perf_counter() - start
            if turn == 0:
                first = took
            else:
                EXCESS_SECONDS.append(max(took - first, 0.0))
            answer = str(response.choices[0].message.content)
            messages += [
                {"role": "assistant", "content": answer},
                {"role": "user", "content": f"now revise paragraph {turn + 2} of: {draft} " + "and keep the tone " * 8},
            ]
        return answer


class Titler:
    def __init__(self, client: openai.AsyncOpenAI) -> None:
        self.client = client

    async def title(self, draft: str) -> str:
        response = await self.client.chat.completions.create(
            model="slow-15-title-maker", messages=[{"role": "user", "content": f"title for: {draft}"}]
        )
        return str(response.choices[0].message.content)
