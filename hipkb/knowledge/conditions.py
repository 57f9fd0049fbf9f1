"""Conditions of rules: parsed from rule files, tested, compiled, explained.

A condition is one line of a rule's ``when`` block: a subject (a case field
such as ``pain.regions``, a derived fact such as ``load_response``, a
hypothesis band such as ``hypothesis.femoral_neck_bsi``, or ``red_flag``) and a
test on its value. It is the hipkb form of a CLIPS pattern's field constraint.

A condition never holds when its subject is unknown: ``{not: x}`` means "known,
and not x", so unknown is never read as no. The one exception says so in its
name: ``{unless: x}`` on a case finding holds when the finding is unknown or
known and not x. It is how a safe presumption is written ("night pain counts
as not positional unless it is recorded as positional"): negation as failure
(CLIPS ``not``) on the case's findings only, which are all known before the
first rule fires, so no conclusion can change what it reads.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from hipkb.errors import ConditionSyntaxError
from hipkb.knowledge.kinds import Subject
from hipkb.knowledge.scales import BANDS, RED_FLAGS

# Kinds of subject, in the order rule layers may use them.
CASE, DERIVED, RED_FLAG, HYPOTHESIS, STATUS = (Subject.CASE, Subject.DERIVED, Subject.RED_FLAG, Subject.HYPOTHESIS,
                                               Subject.STATUS)

BAND_ORDER = {band: rank for rank, band in enumerate(reversed(BANDS))}


@dataclass(frozen=True)
class Condition:
    """One test on one subject; ``values`` is a sorted tuple for determinism."""

    kind: Subject
    subject: str
    op: str
    values: tuple[Any, ...] = ()

    @property
    def key(self) -> str:
        """How the condition's subject is written in facts: ``group.field`` or ``name``."""
        if self.kind == HYPOTHESIS:
            return f"hypothesis.{self.subject}"
        if self.kind == STATUS:
            return f"status.{self.subject}"
        return self.subject

    def test(self, value: Any) -> bool:
        """Whether a *known* value satisfies this condition (``None``, unknown, only an ``unless``)."""
        op, values = self.op, self.values
        if value is None:
            return op == "unless"
        if op == "unless":
            if isinstance(value, tuple):
                return not any(v in value for v in values)
            return value not in values
        if op == "in":
            return value in values
        if op == "not_in":
            return value not in values
        if op == "any":
            return any(v in value for v in values)
        if op == "all":
            return all(v in value for v in values)
        if op == "none":
            return not any(v in value for v in values)
        if op == "range":
            low, high = values
            return (low is None or value >= low) and (high is None or value <= high)
        if op == "at_least":
            return BAND_ORDER.get(value, -1) >= BAND_ORDER[values[0]]
        if op == "present":
            return not values or value in values
        raise ValueError(op)

    def matched_items(self, value: Any) -> tuple[Any, ...]:
        """The parts of *value* this condition looked at, for explanations."""
        if isinstance(value, tuple):
            if self.op in ("any", "all"):
                return tuple(v for v in value if v in self.values)
            return value
        return (value,)

    def describe(self) -> str:
        """Plain words for reports: ``pain.regions includes groin or lateral_hip``."""
        values = [str(v) for v in self.values]
        if self.op == "in":
            return f"{self.key} is {' or '.join(values)}"
        if self.op == "not_in":
            return f"{self.key} is known and not {' or '.join(values)}"
        if self.op == "any":
            return f"{self.key} includes {' or '.join(values)}"
        if self.op == "all":
            return f"{self.key} includes {' and '.join(values)}"
        if self.op == "none":
            return f"{self.key} is known and includes none of {', '.join(values)}"
        if self.op == "range":
            low, high = self.values
            if low is not None and high is not None:
                return f"{self.key} is from {low:g} to {high:g}"
            return f"{self.key} >= {low:g}" if low is not None else f"{self.key} <= {high:g}"
        if self.op == "at_least":
            return f"{self.key} is at least {self.values[0]}"
        if self.op == "unless":
            return f"{self.key} is not known to be {' or '.join(values)}"
        if self.op == "present":
            return f"a red flag ({' or '.join(values)})" if values else "any red flag"
        return f"{self.key} {self.op} {values}"


_PREDICATES: dict[Condition, Callable[[Any], bool]] = {}


def predicate(condition: Condition) -> Callable[[Any], bool]:
    """One shared callable per distinct condition.

    experta keys its alpha-network checks by the id of a predicate, so the same
    condition in many rules must be the same object to share one alpha node,
    and must stay alive so that its id is never reused.
    """
    found = _PREDICATES.get(condition)
    if found is None:
        found = _PREDICATES[condition] = _specialised(condition)
    return found


def _specialised(c: Condition) -> Callable[[Any], bool]:
    """:meth:`Condition.test` as one function for the condition's operator (the same answers).

    The matcher tests conditions hundreds of times per case: the operator is
    chosen once, and a set of findings is tested against a set of values in
    one call, with no generator per test.
    """
    op, values = c.op, c.values
    if op == "in":
        return values.__contains__
    if op in ("any", "all", "none"):
        wanted = frozenset(values)
        if op == "any":
            return lambda value: not wanted.isdisjoint(value) if type(value) is tuple else c.test(value)
        if op == "all":
            return lambda value: wanted.issubset(value) if type(value) is tuple else c.test(value)
        return lambda value: wanted.isdisjoint(value) if type(value) is tuple else c.test(value)
    if op == "not_in":
        # A slot read by an ``unless`` holds None while unknown: not_in means known, and not.
        return lambda value: value is not None and value not in values
    if op == "at_least":
        least = BAND_ORDER[values[0]]
        return lambda value: BAND_ORDER.get(value, -1) >= least
    if op == "range":
        low, high = values
        if low is None:
            return c.test
        if high is None:
            return lambda value: value is not None and value >= low
        return lambda value: value is not None and low <= value <= high
    return c.test


def parse_operand(raw: Any) -> tuple[str | None, Any]:
    """Split ``{op: operand}`` into its parts; a plain value gives ``(None, value)``."""
    if isinstance(raw, Mapping):
        if set(raw) <= {"min", "max"} and raw:
            return "range", (raw.get("min"), raw.get("max"))
        if len(raw) != 1:
            raise ConditionSyntaxError(
                "use one operator per condition: in, not, any, all, none, unless, at_least, or min/max"
            )
        (op, operand), = raw.items()
        return str(op), operand
    return None, raw


def band_values(raw: Any) -> tuple[str, ...]:
    if raw not in BANDS:
        raise ConditionSyntaxError(f"band must be one of {', '.join(BANDS)}")
    return (raw,)


def red_flag_values(raw: Any, known: tuple[str, ...] = RED_FLAGS) -> tuple[str, ...]:
    """``any`` (an empty tuple), one red flag id, or a list of them."""
    if raw == "any":
        return ()
    items = raw if isinstance(raw, list) else [raw]
    for item in items:
        if item not in known:
            raise ConditionSyntaxError(
                f"found {item!r}; a red flag must be 'any' or one of {', '.join(known)}"
            )
    return tuple(sorted(items))
