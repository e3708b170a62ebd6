"""The code review bot: every change gets a fresh reviewer (with the rule book), then a summary."""

from __future__ import annotations

import openai
from appkit import serve

from code_review.agents import ReviewAgent, Summarizer
from code_review.tools import fetch_diff


def main() -> None:
    client = openai.AsyncOpenAI(max_retries=2)
    summarizer = Summarizer(client)
    constructions: list[float] = []

    async def handle(index: int) -> None:
        diff = await fetch_diff(index)
        reviewer = ReviewAgent(client, constructions)  # a new reviewer per change: the rule book rebuilt each time
        review = await reviewer.review(diff)
        await summarizer.summarize(review)

    async def warm_up() -> None:  # a readiness check before taking requests
        await summarizer.summarize("ping")

    serve(handle, lambda: {"culprit_seconds": sum(constructions), "constructions": len(constructions)}, warm_up)


if __name__ == "__main__":
    main()
