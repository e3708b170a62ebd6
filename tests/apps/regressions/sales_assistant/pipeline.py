"""One lead, start to end: enriched, scored, given a draft email."""

from __future__ import annotations

from sales_assistant.agents import Enricher, Outreach, Scorer


async def process_lead(enricher: Enricher, scorer: Scorer, outreach: Outreach, company: str) -> str:
    profile = await enricher.enrich(company)
    return await outreach.draft(company, await scorer.score(profile))
