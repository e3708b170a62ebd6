"""Booking sessions: a dataclass whose generated ``__init__`` derives the session key (a C function the
generated code calls), so the innermost Python frame while the loop is held is ``<string>``."""

from __future__ import annotations

import asyncio
import functools
import hashlib
import time
from dataclasses import dataclass, field


@dataclass
class Session:
    user: str
    key: bytes = field(default_factory=functools.partial(hashlib.pbkdf2_hmac, "sha256", b"pw", b"salt", 400_000))


async def open_session(user: str, measured: list[float]) -> Session:
    await asyncio.sleep(0.01)
    started = time.perf_counter()
    session = Session(user)  # the dataclass's generated __init__ holds the loop
    measured.append(time.perf_counter() - started)
    return session
