"""The help desk's settings, from its environment: ``HELPDESK_VERIFY_ANSWERS=1`` has every answer checked
again by the answering model before it goes out (v2), ``0`` (the default) sends it as written (v1)."""

from __future__ import annotations

import os

VERIFY_ANSWERS = os.environ.get("HELPDESK_VERIFY_ANSWERS", "0") == "1"
ANSWER_MODEL = "slow-250-answer-pro"  # the big model: 250 ms an answer
ANSWER_PRICES = (3.0, 15.0)  # US dollars per million input and output tokens, as in pyproject.toml
