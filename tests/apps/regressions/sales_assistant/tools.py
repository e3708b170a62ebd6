"""The sales assistant's tools."""

from __future__ import annotations

import asyncio


async def crm_lookup(company: str) -> dict[str, str]:
    await asyncio.sleep(0.01)  # the CRM's API
    return {"company": company, "industry": "software" if len(company) % 2 else "retail"}


def dedupe(contacts: list[str]) -> list[str]:
    return sorted(set(contacts))
