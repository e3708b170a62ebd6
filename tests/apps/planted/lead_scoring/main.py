"""The lead pipeline: every lead is enriched, scored and given a draft email."""

from __future__ import annotations

from appkit import serve

from lead_scoring.agents import Enricher, Outreach, Scorer
from lead_scoring.client import RETRY_SECONDS, make_client

COMPANIES = ["acme", "globex", "initech", "umbrella", "hooli", "vandelay"]


def main() -> None:
    client = make_client()
    enricher, scorer, outreach = Enricher(client), Scorer(client), Outreach(client)

    async def handle(index: int) -> None:
        company = COMPANIES[index % len(COMPANIES)]
        profile = await enricher.enrich(company)
        score = await scorer.score(profile)
        await outreach.draft(company, score)

    async def warm_up() -> None:  # a readiness check before taking requests
        await outreach.draft("example", "ping")

    serve(handle, lambda: {"culprit_seconds": sum(RETRY_SECONDS), "calls": len(RETRY_SECONDS)}, warm_up)


if __name__ == "__main__":
    main()
