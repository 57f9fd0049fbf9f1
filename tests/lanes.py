"""The quick lane and the thorough one over the example cases.

A sweep that does the same slow thing to every example case (print it in
Chromium, render every format for both audiences) runs a spread of them in
the quick lane, the README's test command, and the rest under the
``thorough`` marker, which ``.ci/run`` runs after it. The clinical
expectations of every example stay in the quick lane: they are not sweeps.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

QUICK = 12  # example cases a sweep runs in the quick lane


def quick_sample(paths: Sequence[Path], quick: int = QUICK) -> list[Path]:
    """A spread of *quick* of *paths* (sorted by name, so every kind of case is among them), the same every run."""
    ordered = sorted(paths)
    if len(ordered) <= quick:
        return ordered
    return [ordered[round(i * (len(ordered) - 1) / (quick - 1))] for i in range(quick)]


def example_params(paths: Sequence[Path], quick: int = QUICK, always: Sequence[Path] = ()) -> list:
    """*paths* as pytest parameters named by stem: a spread (and *always*) in the quick lane, the others thorough."""
    sample = set(quick_sample(paths, quick)) | set(always)
    return [pytest.param(p, id=p.stem, marks=() if p in sample else pytest.mark.thorough) for p in sorted(paths)]


__all__ = ["QUICK", "example_params", "quick_sample"]
