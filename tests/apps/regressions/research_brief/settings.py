"""The research assistant's settings, from its environment: ``RESEARCH_FANOUT=parallel`` (v1, the default)
runs the web and paper researchers at once; ``sequential`` (v2) awaits one and then the other, as a
refactor left it."""

from __future__ import annotations

import os

PARALLEL = os.environ.get("RESEARCH_FANOUT", "parallel") == "parallel"
