"""The ticket triage service: every new ticket is triaged against the customer's history, then recorded."""

from __future__ import annotations

import tempfile
from pathlib import Path

import openai
from appkit import serve

from ticket_triage.agents import TriageAgent
from ticket_triage.history import LOOKUPS, TicketHistory, seed

TICKETS = ["my parcel never arrived", "refund still pending", "cannot log in since update", "invoice shows wrong vat"]


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="ticket-triage-") as workdir:
        path = Path(workdir) / "tickets.jsonl"
        seed(path, 30000)  # each lookup then costs about twice a slow model call: the planted bottleneck by a margin
        agent = TriageAgent(openai.AsyncOpenAI(max_retries=2), TicketHistory(path))

        async def handle(index: int) -> None:
            await agent.handle(index, f"C-{index % 97:03d}", TICKETS[index % len(TICKETS)])

        async def warm_up() -> None:  # a readiness check before taking requests
            await agent.client.chat.completions.create(
                model="slow-10-triage-mini", messages=[{"role": "user", "content": "ping"}]
            )

        serve(handle, lambda: {"culprit_seconds": LOOKUPS.total, "lookups": len(LOOKUPS.runs)}, warm_up)


if __name__ == "__main__":
    main()
