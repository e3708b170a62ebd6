"""The indexer agent: for each document, find related ones, tokenize it and score it."""

from __future__ import annotations

from doc_indexer.tools import score, search, tokenize


class Indexer:
    async def index(self, document: str) -> int:
        related = await search(document)
        return await score(tokenize(document) + related)
