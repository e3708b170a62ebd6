"""The sales assistant's settings, from its environment: ``SALES_SCORING_TIER=dedicated`` (v1, the default)
scores leads on the dedicated deployment; ``shared`` (v2) on the cheaper shared one, which the provider
throttles (429, retried by the SDK after the 150 ms it asks for, twice a call)."""

from __future__ import annotations

import os

SCORING_MODELS = {"dedicated": "scorer-pro", "shared": "throttle-2-150-scorer-pro"}
SCORING_MODEL = SCORING_MODELS[os.environ.get("SALES_SCORING_TIER", "dedicated")]
