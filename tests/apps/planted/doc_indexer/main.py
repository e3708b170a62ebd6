"""The document indexer: each request indexes a batch of 50 documents, 50 documents in flight in all."""

from __future__ import annotations

import asyncio

from appkit import serve

from doc_indexer.agents import Indexer
from doc_indexer.tools import QUEUED, SCORING

BATCH = 50
IN_FLIGHT = 50


def main() -> None:
    indexer = Indexer()
    gate: list[asyncio.Semaphore] = []  # made on the app's loop

    async def one(document: str) -> int:
        if not gate:
            gate.append(asyncio.Semaphore(IN_FLIGHT))
        async with gate[0]:
            return await indexer.index(document)

    async def handle(index: int) -> None:
        await asyncio.gather(*(one(f"request {index} document {number} about search") for number in range(BATCH)))

    def measured() -> dict[str, float]:
        return {"culprit_seconds": QUEUED.total, "scoring_seconds": SCORING.total}

    serve(handle, measured)


if __name__ == "__main__":
    main()
