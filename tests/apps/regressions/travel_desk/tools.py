"""The travel desk's tools: geocoding (an embeddings service over HTTP) and the budget check."""

from __future__ import annotations

import asyncio
import json
import os
import urllib.request

import httpx
from appkit import timing

from travel_desk import settings


def _request_body(city: str) -> dict[str, str]:
    return {"model": settings.GEOCODER_MODEL, "input": city}


def _headers() -> dict[str, str]:
    return {"Content-Type": "application/json", "Authorization": "Bearer " + os.environ["OPENAI_API_KEY"]}


async def geocode(city: str, http: httpx.AsyncClient) -> list[float]:
    """The city's coordinates in the desk's embedding space."""
    url = os.environ["OPENAI_BASE_URL"].rstrip("/") + "/embeddings"
    if settings.SYNC_GEOCODER:
        request = urllib.request.Request(url, data=json.dumps(_request_body(city)).encode(), headers=_headers())
        with timing(), urllib.request.urlopen(request, timeout=10) as response:  # holds the event loop
            body = json.loads(response.read())
    else:
        reply = await http.post(url, json=_request_body(city), headers=_headers(), timeout=10)
        body = reply.json()
    return [float(value) for value in body["data"][0]["embedding"]]


async def check_budget(city: str, nights: int) -> float:
    await asyncio.sleep(0.01)  # the pricing service
    return 90.0 * nights * (1.2 if len(city) > 5 else 1.0)
