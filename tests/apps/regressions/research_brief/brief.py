"""One request: a research brief on a topic, from the web and from papers."""

from __future__ import annotations

import asyncio

from appkit import timing

from research_brief import settings
from research_brief.agents import BriefWriter, PaperResearcher, WebResearcher
from research_brief.tools import expand_query, format_brief


async def write_brief(web: WebResearcher, papers: PaperResearcher, writer: BriefWriter, topic: str) -> str:
    queries = await expand_query(topic)
    with timing():  # the app's own bookkeeping of what the research costs a request
        if settings.PARALLEL:
            found_web, found_papers = await asyncio.gather(web.search(queries), papers.search(queries))
        else:
            found_web = await web.search(queries)
            found_papers = await papers.search(queries)
    return format_brief(topic, found_web, found_papers, await writer.summarize(found_web, found_papers))
