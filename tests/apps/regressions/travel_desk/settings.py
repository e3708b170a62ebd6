"""The travel desk's settings, from its environment: ``TRAVEL_DESK_GEOCODER_CLIENT=async`` (v1, the
default) geocodes with httpx's async client; ``sync`` (v2) with the synchronous ``urllib`` client someone
found simpler, inside the same ``async def`` tool."""

from __future__ import annotations

import os

SYNC_GEOCODER = os.environ.get("TRAVEL_DESK_GEOCODER_CLIENT", "async") == "sync"
GEOCODER_MODEL = "slow-300-geocoder"  # the geocoding service answers in 300 ms
