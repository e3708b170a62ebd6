"""The docs assistant: each question is rewritten, answered from the docs, and given follow-ups."""

from __future__ import annotations

import openai
from appkit import serve

from doc_chat.agents import ANSWER_TIMINGS, DocAssistant, QueryRewriter
from doc_chat.models import stream_chat

QUESTIONS = ["how do I install it", "which metrics are there", "how do I add a dashboard", "what does top show"]


def main() -> None:
    client = openai.AsyncOpenAI(max_retries=2)
    rewriter, assistant = QueryRewriter(client), DocAssistant(client)

    async def handle(index: int) -> None:
        question = QUESTIONS[index % len(QUESTIONS)]
        query = await rewriter.rewrite(question)
        answer = await assistant.answer(question, query)
        await assistant.suggest_followups(answer)

    async def warm_up() -> None:  # a readiness check before taking requests: both ways the app calls models
        await client.chat.completions.create(model="health-check-mini", messages=[{"role": "user", "content": "ping"}])
        await stream_chat(client, "health-check-mini", "ping")

    serve(
        handle,
        lambda: {
            "culprit_seconds": sum(ANSWER_TIMINGS.total),
            "first_chunk_seconds": sum(ANSWER_TIMINGS.first_chunk),
            "calls": len(ANSWER_TIMINGS.total),
        },
        warm_up,
    )


if __name__ == "__main__":
    main()
