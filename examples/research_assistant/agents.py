"""The orchestrator and the research agents it spawns."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from pathlib import Path
from typing import Any

import openai

from research_assistant import tools
from research_assistant.config import load_settings
from research_assistant.history import HistoryStore
from research_assistant.llm import ModelClient
from research_assistant.reviewer import review


class ResearchAgent:
    """Answers one question; each agent re-reads the settings and builds its own client."""

    def __init__(self, history: HistoryStore) -> None:
        self.settings = load_settings()
        self.client = ModelClient(self.settings["model"])
        self.history = history
        self.scratchpad: list[str] = []

    async def answer(self, question: str, ratio: str) -> dict[str, Any]:
        plan = await self.client.complete(f"plan: {question}")
        found = await tools.search_docs(question)
        try:
            value: float | None = tools.calculate(ratio)
        except ZeroDivisionError:
            value = None
        summary = tools.summarize([plan, *found])
        record = {"id": uuid.uuid4().hex, "question": question, "summary": summary, "value": value}
        self.history.append(record)
        context = self.history.recent(5)
        self.history.get_by_id(context[0]["id"])
        final = await self.client.stream(f"answer: {question} with {len(context)} notes")
        return {**record, "answer": final}


class Orchestrator:
    """Spawns one research agent per question and runs them concurrently."""

    def __init__(self, workdir: Path) -> None:
        settings = load_settings()
        self.history = HistoryStore(workdir / settings["history_file"])
        self.triage_model = settings["triage_model"]
        self.review_model = settings["review_model"]

    async def run(self, questions: list[tuple[str, str]]) -> list[dict[str, Any]]:
        # Triage is an optimisation: when it is unavailable, answer everything (one retry, then give up).
        # A client per run: each run has its own event loop.
        with contextlib.suppress(openai.RateLimitError):
            await ModelClient(self.triage_model, max_retries=1).complete(
                "triage: " + "; ".join(question for question, _ in questions)
            )
        agents = [ResearchAgent(self.history) for _ in questions]
        answers = await asyncio.gather(
            *(agent.answer(question, ratio) for agent, (question, ratio) in zip(agents, questions, strict=True))
        )
        await review(self.review_model, answers)
        return answers
