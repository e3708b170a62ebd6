"""The sales assistant: every request processes one lead."""

from __future__ import annotations

from appkit import serve

from sales_assistant.agents import Enricher, Outreach, Scorer
from sales_assistant.client import make_client
from sales_assistant.pipeline import process_lead

COMPANIES = ["acme", "globex", "initech", "umbrella", "hooli", "vandelay"]


def main() -> None:
    client = make_client()
    enricher, scorer, outreach = Enricher(client), Scorer(client), Outreach(client)

    async def handle(index: int) -> None:
        await process_lead(enricher, scorer, outreach, COMPANIES[index % len(COMPANIES)])

    async def warm_up() -> None:  # a readiness check before taking requests
        await outreach.draft("example", "ping")

    serve(handle, warm_up)


if __name__ == "__main__":
    main()
