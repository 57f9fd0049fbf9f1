"""The fixed scales of results: triage levels and running advice, most urgent first."""

from __future__ import annotations

TRIAGE_LEVELS: tuple[str, ...] = ("emergency", "urgent", "routine", "self_care")
RUNNING_ADVICE: tuple[str, ...] = ("stop", "reduce", "continue_as_tolerated")
BANDS: tuple[str, ...] = ("likely", "possible", "unlikely")
#: The exclusion status of an alarm hypothesis, in the order the shell's RESOLVE
#: step lets one outweigh another: its own signs first (safety first), then
#: the recorded findings or imaging that exclude it, then "not yet excluded".
STATUSES: tuple[str, ...] = ("suspected", "excluded", "not_excluded")
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
