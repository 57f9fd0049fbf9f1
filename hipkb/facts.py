"""The experta fact templates hipkb reasons with (CLIPS ``deftemplate``).

Case findings become one fact per group of the vocabulary, with the group's
known fields as slots (``History(onset='gradual', mechanism='none')``): a
pattern on one group is tested by alpha nodes only, with no join against a
pool of generic findings. Unknown fields are simply absent, so no pattern can
match them. Conclusions get one template per layer.
"""

from __future__ import annotations

from ._compat import import_experta

experta = import_experta()
Fact = experta.Fact


class Derived(Fact):
    """An intermediate conclusion: ``name=value`` (layer 1)."""


class RedFlagFact(Fact):
    """A red flag raised by a screen (layer 2): ``id``."""


class Evidence(Fact):
    """One rule's weight for or against a hypothesis (layer 3)."""


class HypothesisFact(Fact):
    """A hypothesis with its combined certainty and band (layer 4)."""


class TriageFact(Fact):
    """A triage level one rule calls for (layer 5)."""


class RunningFact(Fact):
    """Running advice one rule calls for (layer 5)."""


class AvoidFact(Fact):
    """A finding that must not be asked for or tested now (layer 5)."""


class Decision(Fact):
    """The triage and running advice that win (layer 6)."""


def group_class(group: str) -> type:
    """A Fact subclass for one vocabulary group, named after it."""
    name = "".join(part.capitalize() for part in group.split("_")) or "Group"
    return type(name, (Fact,), {"__doc__": f"Case findings of the {group!r} group."})
