"""A small helper module: its import costs next to nothing."""

from __future__ import annotations


def shout(text: str) -> str:
    return text.upper()
