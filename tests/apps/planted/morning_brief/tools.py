"""The brief's tools."""

from __future__ import annotations


def headline_filter(lines: list[str]) -> list[str]:
    return [line[:200] for line in lines if line]
