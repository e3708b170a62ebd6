"""A model library that builds its tables when imported, as heavy scientific packages do."""

from __future__ import annotations

from heavy_model import tables

LOADED = tables.build(0.4)
