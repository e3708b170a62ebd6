"""The test ``compare`` judges a timing change by: a two-sided Mann-Whitney U test, from the standard library.

Request latencies are skewed and a few slow requests (a retry, a cold cache) would move a t-test's mean,
so the test compares ranks: whether a request of one run tends to take longer than one of the other.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Test:
    """A Mann-Whitney U test's outcome: U of the first sample, its z score and the two-sided p-value."""

    u: float
    z: float
    p: float
    sizes: tuple[int, int]


def _ranks(values: list[float]) -> tuple[list[float], float]:
    """Each value's rank (1-based, ties given their mean rank) and the tie term ``Σ (t³ - t)`` over the
    groups of ``t`` equal values."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [0.0] * len(values)
    ties = 0.0
    start = 0
    while start < len(order):
        end = start
        while end + 1 < len(order) and values[order[end + 1]] == values[order[start]]:
            end += 1
        mean_rank = (start + end + 2) / 2
        for i in order[start : end + 1]:
            ranks[i] = mean_rank
        tied = end - start + 1
        ties += tied**3 - tied
        start = end + 1
    return ranks, ties


def mann_whitney(first: list[float], second: list[float]) -> Test | None:
    """Two-sided Mann-Whitney U test of ``first`` against ``second``, by its normal approximation with the
    tie correction and a continuity correction (as ``scipy.stats.mannwhitneyu(..., method="asymptotic")``):

    - ``U₁ = R₁ - n₁(n₁ + 1)/2``, ``R₁`` the sum of ``first``'s ranks in both samples together (ties ranked
      by their mean rank);
    - ``μ = n₁n₂/2`` and ``sigma² = n₁n₂/12 · ((n + 1) - Σ(t³ - t) / (n(n - 1)))``, ``n = n₁ + n₂``, the sum over
      groups of ``t`` tied values;
    - ``z = (|U₁ - μ| - ½) / sigma`` and ``p = erfc(z / √2)``, the two-sided tail of the standard normal.

    None when either sample is empty; p is 1 when every value is the same (no ranks to tell apart).
    """
    n1, n2 = len(first), len(second)
    if not n1 or not n2:
        return None
    ranks, ties = _ranks([*first, *second])
    u1 = sum(ranks[:n1]) - n1 * (n1 + 1) / 2
    n = n1 + n2
    mean = n1 * n2 / 2
    variance = n1 * n2 / 12 * ((n + 1) - ties / (n * (n - 1))) if n > 1 else 0.0
    if variance <= 0:
        return Test(u1, 0.0, 1.0, (n1, n2))
    z = max(abs(u1 - mean) - 0.5, 0.0) / math.sqrt(variance)
    return Test(u1, math.copysign(z, u1 - mean), math.erfc(z / math.sqrt(2)), (n1, n2))
