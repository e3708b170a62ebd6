"""One request: a documentation page written on a topic, with its follow-up questions."""

from __future__ import annotations

from doc_writer.agents import Drafter, Outliner


async def write_page(outliner: Outliner, drafter: Drafter, topic: str) -> str:
    page = await drafter.draft(topic, await outliner.outline(topic))
    return page + "\n" + await drafter.followups(page)
