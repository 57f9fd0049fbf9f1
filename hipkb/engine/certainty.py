"""Combining the weights of several rules into one certainty per hypothesis.

This is MYCIN's certainty-factor algebra in its EMYCIN form. Evidence for
(positive weights) and evidence against (negative weights) are each combined
with the parallel rule ``a + b(1 - a)``, which is commutative and associative,
then the two are joined once::

    cf = (mb - md) / (1 - min(mb, md))

Pooling each sign first makes the result independent of the order in which
rules fired (MYCIN's pairwise formula is not associative across signs), so the
same case always gets the same certainty. One strong "against" does not simply
cancel one strong "for": 0.8 for and 0.8 against give 0, while 0.8 for and 0.4
against give 0.67.
"""

from __future__ import annotations

from collections.abc import Iterable

LIKELY = 0.6
POSSIBLE = 0.3


def pool(weights: Iterable[float]) -> float:
    """Parallel combination of same-sign weights in [0, 1]."""
    total = 0.0
    for weight in sorted(weights):
        total = total + weight * (1.0 - total)
    return total


def combine(cfs: Iterable[float]) -> float:
    """Combine signed certainty factors in [-1, 1] into one, in [-1, 1]."""
    cfs = list(cfs)
    mb = pool(c for c in cfs if c > 0)
    md = pool(-c for c in cfs if c < 0)
    if mb >= 1.0 and md >= 1.0:
        return 0.0
    return (mb - md) / (1.0 - min(mb, md))


def band(certainty: float, likely: float = LIKELY, possible: float = POSSIBLE) -> str:
    """``likely`` (>= 0.6), ``possible`` (>= 0.3) or ``unlikely``; other thresholds for a sensitivity analysis."""
    if certainty >= likely:
        return "likely"
    if certainty >= possible:
        return "possible"
    return "unlikely"
