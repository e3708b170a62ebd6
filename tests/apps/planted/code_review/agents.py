"""The reviewer, built for each change with the full rule book in its prompt, and a shared summarizer."""

from __future__ import annotations

import hashlib
import time

import openai

from code_review.rules import LANGUAGES, RULES
from code_review.tools import run_linter

TEMPLATE = "[{language}] {code}: {check}. Flag it as {code}-{language} with the line number."


class ReviewAgent:
    def __init__(self, client: openai.AsyncOpenAI, timings: list[float] | None = None) -> None:
        started = time.perf_counter()
        self.client = client
        lines = [
            TEMPLATE.format(language=language, code=code, check=check)
            for language in LANGUAGES
            for code, check in RULES
        ]
        self.prompt = "\n".join(sorted(set(lines), key=lambda line: hashlib.sha256(line.encode()).digest()))
        self.prompt_id = hashlib.sha256(self.prompt.encode()).hexdigest()[:12]
        if timings is not None:
            timings.append(time.perf_counter() - started)  # the app's own timing of its constructor

    async def review(self, diff: str) -> str:
        findings = await run_linter(diff)
        response = await self.client.chat.completions.create(
            model="slow-20-reviewer",
            messages=[
                {"role": "system", "content": f"rule book {self.prompt_id} ({len(self.prompt)} characters)"},
                {"role": "user", "content": f"review:\n{diff}\nlinter: {findings}"},
            ],
        )
        return str(response.choices[0].message.content)


class Summarizer:
    def __init__(self, client: openai.AsyncOpenAI) -> None:
        self.client = client

    async def summarize(self, review: str) -> str:
        response = await self.client.chat.completions.create(
            model="slow-10-summary-mini", messages=[{"role": "user", "content": f"summarize: {review}"}]
        )
        return str(response.choices[0].message.content)
