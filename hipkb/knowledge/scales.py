"""The fixed scales of results: triage levels and running advice, most urgent first."""

from __future__ import annotations

TRIAGE_LEVELS: tuple[str, ...] = ("emergency", "urgent", "routine", "self_care")
RUNNING_ADVICE: tuple[str, ...] = ("stop", "reduce", "continue_as_tolerated")
BANDS: tuple[str, ...] = ("likely", "possible", "unlikely")
RED_FLAGS: tuple[str, ...] = (
    "possible_cauda_equina",
    "possible_fracture",
    "possible_infection",
    "possible_malignancy",
    "night_pain",
    "progressive_neuro_deficit",
)


def triage_rank(level: str) -> int:
    """0 for the most urgent level; a lower rank always wins."""
    return TRIAGE_LEVELS.index(level)


def running_rank(advice: str) -> int:
    """0 for the most restrictive advice; a lower rank always wins."""
    return RUNNING_ADVICE.index(advice)
