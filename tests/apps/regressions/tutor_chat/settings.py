"""The tutor's settings, from its environment: ``TUTOR_HISTORY=window`` (v1, the default) sends the tutor
model the last exchange only; ``TUTOR_HISTORY=full`` (v2) sends the whole lesson so far, which grows by an
exchange every turn."""

from __future__ import annotations

import os

FULL_HISTORY = os.environ.get("TUTOR_HISTORY", "window") == "full"
TURNS = 5  # exchanges per lesson
# The tutor model reads its prompt at 1 ms a word and writes a 60-word answer.
TUTOR_MODEL = "prefill-1000-long-60-tutor-large"
TUTOR_PRICES = (3.0, 15.0)  # US dollars per million input and output tokens, as in pyproject.toml
