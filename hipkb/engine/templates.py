"""The experta fact templates hipkb reasons with (CLIPS ``deftemplate``).

Case findings become one fact per group of the vocabulary, with the group's
known fields as slots (``History(onset='gradual', mechanism='none')``): a
pattern on one group is tested by alpha nodes only, with no join against a
pool of generic findings. Unknown fields are simply absent, so no pattern can
match them. Conclusions get one template per layer.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from hipkb.engine.experta_shim import import_experta

experta: Any = import_experta()  # experta has no type information
Fact: Any = experta.Fact

# Values that experta's freeze() returns unchanged.
_PLAIN = frozenset({str, int, float, bool, type(None)})


class _Fact(experta.Fact):
    """experta's Fact, built without a freeze() dispatch per slot when nothing needs freezing.

    experta stores every slot through ``__setitem__``, which freezes the value
    (lists to frozenlists, dicts to frozendicts) by a singledispatch call.
    The slots hipkb declares hold text, numbers and tuples of text, which
    freeze() returns as they are: store them directly. Anything else takes
    experta's own path.
    """

    # Set on a fact built from plain values under plain slot names: nothing
    # in it can be a pattern constraint or a nested accessor, which is what
    # experta checks again on every declaration (see hipkb.engine.factlist).
    # True on the class for the templates whose facts only :meth:`of` makes.
    plain = False
    # experta keeps each fact's defaults of its schema fields here; hipkb's
    # templates declare no fields, so nothing is ever stored: one empty,
    # read-only mapping for every fact made by :meth:`of`, not a dict each.
    _Fact__defaults: Mapping[str, object] = MappingProxyType({})

    def __init__(self, *args: object, **kwargs: object) -> None:
        if args or not all(type(v) in _PLAIN or (type(v) is tuple and all(type(i) is str for i in v))
                           for v in kwargs.values()):
            super().__init__(*args, **kwargs)
            self.plain = False
            return
        dict.update(self, kwargs)
        self._Fact__defaults = {}  # what experta's __init__ sets
        self.plain = not any("__" in k.strip("_") for k in kwargs)

    @classmethod
    def of(cls, **slots: str | float | tuple[str, ...]) -> Any:
        """A plain fact from values the caller guarantees plain (text, numbers, tuples of text).

        For the engine's own conclusions, made on every firing from the
        knowledge base's ids and matched fact strings: the checks of
        ``__init__`` would only confirm what their construction already does.
        """
        fact = cls.__new__(cls)
        dict.update(fact, slots)
        if not cls.plain:
            fact.plain = True
        return fact


class _Conclusion(_Fact):
    """A template for the engine's own conclusions: made by :meth:`_Fact.of`, so plain."""

    plain = True


class Derived(_Conclusion):
    """An intermediate conclusion: ``name=value`` (layer 1)."""


class RedFlagFact(_Conclusion):
    """A red flag raised by a screen (layer 2): ``id``."""


class Evidence(_Conclusion):
    """One rule's weight for or against a hypothesis (layer 3)."""


class HypothesisFact(_Conclusion):
    """A hypothesis with its combined certainty and band (layer 4)."""


class StatusFact(_Conclusion):
    """The exclusion status of an alarm hypothesis, once the shell has settled it (after layer 4)."""


class TriageFact(_Conclusion):
    """A triage level one rule calls for (layer 5)."""


class RunningFact(_Conclusion):
    """Running advice one rule calls for (layer 5)."""


class AvoidFact(_Conclusion):
    """Findings (``facts``) one rule says must not be asked for, or not tested, now (layer 5)."""


class Decision(_Conclusion):
    """The triage and running advice that win (layer 6)."""


_INITIAL = experta.fact.InitialFact


def is_plain(fact: Any) -> bool:
    """Whether *fact* is plain: declaring it needs none of experta's checks (the one definition of plain).

    hipkb's templates say so of the facts they build (``plain``); experta's
    own ``(initial-fact)`` has no slots, so nothing in it to check either.
    """
    return getattr(fact, "plain", False) or type(fact) is _INITIAL


def group_class(group: str) -> type:
    """A Fact subclass for one vocabulary group, named after it."""
    name = "".join(part.capitalize() for part in group.split("_")) or "Group"
    return type(name, (_Fact,), {"__doc__": f"Case findings of the {group!r} group."})
