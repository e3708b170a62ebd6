"""The story coach: each request is one coaching session of eight turns, then a title."""

from __future__ import annotations

import openai
from appkit import serve

from story_coach.agents import EXCESS_SECONDS, Coach, Titler

DRAFTS = ["a lighthouse keeper's last winter", "two rivals share a taxi", "the robot who kept bees"]


def main() -> None:
    client = openai.AsyncOpenAI()
    coach, titler = Coach(client), Titler(client)

    async def handle(index: int) -> None:
        draft = DRAFTS[index % len(DRAFTS)]
        await coach.session(draft, turns=8)
        await titler.title(draft)

    async def warm_up() -> None:  # a readiness check before taking requests
        await titler.title("ping")

    serve(handle, lambda: {"culprit_seconds": sum(EXCESS_SECONDS)}, warm_up)


if __name__ == "__main__":
    main()
