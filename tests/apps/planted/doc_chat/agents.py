"""The docs assistant: a fast model rewrites the question, the big one answers, a fast one suggests more."""

from __future__ import annotations

import openai

from doc_chat.models import StreamTimings, stream_chat
from doc_chat.tools import cite, retrieve

ANSWER_MODEL = "ttft-400-doc-answerer"  # the big model: 400 ms to its first token
ANSWER_TIMINGS = StreamTimings()


class QueryRewriter:
    def __init__(self, client: openai.AsyncOpenAI) -> None:
        self.client = client

    async def rewrite(self, question: str) -> str:
        response = await self.client.chat.completions.create(
            model="query-rewriter-mini", messages=[{"role": "user", "content": f"rewrite for search: {question}"}]
        )
        return str(response.choices[0].message.content)


class DocAssistant:
    def __init__(self, client: openai.AsyncOpenAI) -> None:
        self.client = client

    async def answer(self, question: str, query: str) -> str:
        pages = await retrieve(query)
        text = await stream_chat(self.client, ANSWER_MODEL, f"{question}\n{cite(pages)}", ANSWER_TIMINGS)
        return f"{text} {cite(pages)}"

    async def suggest_followups(self, answer: str) -> str:
        return await stream_chat(self.client, "followup-mini", f"follow-up questions for: {answer}")
