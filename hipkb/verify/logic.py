"""Reasoning about rule conditions without running the engine.

The static checks of :mod:`hipkb.verify.anomalies` ask questions such as "can
these conditions ever hold together?" and "does this condition imply that
one?". Case fields are single-valued (a choice, a number, one list), so two
conditions on one field can exclude each other; derived facts and red flags
are not (``load_response=bone`` and ``load_response=nerve`` may both be
concluded), so they are expanded, through the rules that produce them, into the
case findings they need.

An *expansion* of a rule is a list of alternatives (a formula in disjunctive
normal form): each alternative is a set of case conditions that, if the
findings satisfy them, lets the rule's whole derivation chain fire. Hypothesis
conditions are expanded into what is *necessary* for them (some rule
supporting the hypothesis fires), not what is sufficient, so "can never fire"
is only ever said when it is certain. An expansion that grows past
:data:`MAX_ALTERNATIVES` is abandoned as unknown (``None``), which every check
reads as "may be satisfiable": no false alarms, at worst a missed finding.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Sequence
from typing import Any

from hipkb.knowledge import conditions as cond
from hipkb.knowledge.conditions import Condition
from hipkb.knowledge.index import index
from hipkb.knowledge.rules import KnowledgeBase, RuleDef
from hipkb.knowledge.scales import BANDS
from hipkb.knowledge.vocabulary import Field, Vocabulary

MAX_ALTERNATIVES = 512
# Sets with more items than this are reasoned about by rules, not enumerated.
MAX_ENUMERATED_SET = 12

Conj = frozenset  # a frozenset of case Conditions: one alternative of an expansion
Expansion = list  # list[Conj]; None where too large to know


# --------------------------------------------------------------------------
# one field


def subsets(spec: Field) -> list[tuple[str, ...]]:
    """Every list value a set field can hold (in vocabulary order), respecting min_items."""
    values = list(spec.values)
    found: list[tuple[str, ...]] = []
    for size in range(spec.min_items, len(values) + 1):
        found.extend(itertools.combinations(values, size))
    return found


def _interval(spec: Field, conditions: Iterable[Condition]) -> tuple[float | None, float | None]:
    low, high = spec.minimum, spec.maximum
    for c in conditions:
        c_low, c_high = c.values
        if c_low is not None:
            low = c_low if low is None else max(low, c_low)
        if c_high is not None:
            high = c_high if high is None else min(high, c_high)
    return low, high


def _interval_empty(spec: Field, low: float | None, high: float | None) -> bool:
    if spec.type == "integer":
        low = None if low is None else math.ceil(low)
        high = None if high is None else math.floor(high)
    return low is not None and high is not None and low > high


def satisfiable_on(spec: Field, conditions: Sequence[Condition]) -> bool:
    """Whether one value of *spec* satisfies every one of *conditions*."""
    if not conditions:
        return True
    if spec.type == "choice":
        return any(all(c.test(v) for c in conditions) for v in spec.values)
    if spec.is_numeric:
        return not _interval_empty(spec, *_interval(spec, conditions))
    if spec.type == "set":
        if len(spec.values) <= MAX_ENUMERATED_SET:
            return any(all(c.test(s) for c in conditions) for s in subsets(spec))
        forbidden = {v for c in conditions if c.op == "none" for v in c.values}
        required = {v for c in conditions if c.op == "all" for v in c.values}
        if required & forbidden:
            return False
        return all(set(c.values) - forbidden for c in conditions if c.op == "any")
    return True


def value_for(spec: Field, conditions: Sequence[Condition]) -> Any:
    """A plain case-file value of *spec* that satisfies *conditions* (the first in vocabulary order)."""
    if spec.type == "choice":
        for v in spec.values:
            if all(c.test(v) for c in conditions):
                return v
        return None
    if spec.is_numeric:
        low, high = _interval(spec, conditions)
        if _interval_empty(spec, low, high):
            return None
        if low is None:
            value = high if high is not None else 0
        else:
            value = low
        if spec.type == "integer":
            value = math.ceil(value) if low is not None else math.floor(value)
        return int(value) if float(value).is_integer() else value
    if spec.type == "set":
        for s in subsets(spec):
            if all(c.test(s) for c in conditions):
                return list(s)
        return None
    return None


def implies(b: Condition, a: Condition, kb: KnowledgeBase) -> bool:
    """Whether *b* holding guarantees that *a* holds (both on the same subject)."""
    if (a.kind, a.subject) != (b.kind, b.subject):
        return False
    if a == b:
        return True
    if a.kind == cond.CASE:
        spec = kb.vocabulary.fields[a.subject]
        if spec.type == "choice":
            return all(a.test(v) for v in spec.values if b.test(v))
        if spec.is_numeric:
            b_low, b_high = _interval(spec, [b])
            a_low, a_high = a.values
            return (a_low is None or (b_low is not None and b_low >= a_low)) and (
                a_high is None or (b_high is not None and b_high <= a_high))
        if spec.type == "set" and len(spec.values) <= MAX_ENUMERATED_SET:
            return all(a.test(s) for s in subsets(spec) if b.test(s))
        return False
    if a.kind == cond.DERIVED:
        values = kb.derived[a.subject].values
        return {v for v in values if b.test(v)} <= {v for v in values if a.test(v)}
    if a.kind == cond.HYPOTHESIS:
        return {x for x in BANDS if b.test(x)} <= {x for x in BANDS if a.test(x)}
    if a.kind == cond.RED_FLAG:
        if not a.values:
            return True
        return bool(b.values) and set(b.values) <= set(a.values)
    return False


# --------------------------------------------------------------------------
# sets of case conditions


def conflict_in(conj: Iterable[Condition], vocabulary: Vocabulary) -> str | None:
    """The first field on which *conj* cannot hold, or None when it can."""
    by_subject: dict[str, list[Condition]] = {}
    for c in conj:
        by_subject.setdefault(c.subject, []).append(c)
    for subject in sorted(by_subject):
        spec = vocabulary.fields.get(subject)
        if spec is not None and not satisfiable_on(spec, by_subject[subject]):
            return subject
    return None


def consistent(conj: Iterable[Condition], vocabulary: Vocabulary) -> bool:
    return conflict_in(conj, vocabulary) is None


def witness(conj: Iterable[Condition], vocabulary: Vocabulary) -> dict[str, Any] | None:
    """The smallest case (as ``{"group.field": value}``) satisfying *conj*, or None.

    Required fields that *conj* does not constrain get their first value, so
    the result validates as a case once nested by group.
    """
    by_subject: dict[str, list[Condition]] = {}
    for c in conj:
        by_subject.setdefault(c.subject, []).append(c)
    found: dict[str, Any] = {}
    for path, spec in vocabulary.fields.items():
        conditions = by_subject.get(path)
        if conditions is None and not spec.required:
            continue
        value = value_for(spec, conditions or [])
        if value is None:
            return None
        found[path] = value
    return found


def nest(flat: dict[str, Any]) -> dict[str, Any]:
    """``{"pain.regions": [...]}`` -> ``{"pain": {"regions": [...]}}``, in key order."""
    case: dict[str, Any] = {}
    for path, value in flat.items():
        group, _, name = path.partition(".")
        case.setdefault(group, {})[name] = value
    return case


def _minimal(alternatives: list[Conj]) -> list[Conj]:
    """Drop alternatives that hold a smaller one (they add nothing), keep order stable."""
    alternatives = sorted(set(alternatives), key=lambda s: (len(s), sorted(map(repr, s))))
    kept: list[Conj] = []
    for alt in alternatives:
        if not any(k <= alt for k in kept):
            kept.append(alt)
    return kept


def product(left: list[Conj] | None, right: list[Conj] | None, vocabulary: Vocabulary,
            limit: int = MAX_ALTERNATIVES) -> list[Conj] | None:
    """Both hold: every consistent union of one alternative of each (None: too many)."""
    if left is None or right is None:
        return None
    out = []
    for a in left:
        for b in right:
            joined = a | b
            if consistent(joined, vocabulary):
                out.append(joined)
                if len(out) > limit * 4:
                    return None
    out = _minimal(out)
    return None if len(out) > limit else out


# --------------------------------------------------------------------------
# expansions through the derivation chain


class Expander:
    """Expansions of the rules and conditions of one knowledge base, memoised."""

    def __init__(self, kb: KnowledgeBase, limit: int = MAX_ALTERNATIVES) -> None:
        self.kb = kb
        self.limit = limit
        self._rules: dict[str, list[Conj] | None] = {}
        self._stack: list[str] = []
        self._cycle_depth: int | None = None

    def producers(self, c: Condition) -> tuple[RuleDef, ...]:
        """The rules whose conclusion can make *c* hold (necessary ones for hypotheses)."""
        return index(self.kb).producers(c, necessary=True)

    def condition(self, c: Condition) -> list[Conj] | None:
        if c.kind == cond.CASE:
            spec = self.kb.vocabulary.fields[c.subject]
            return [frozenset({c})] if satisfiable_on(spec, [c]) else []
        out: list[Conj] = []
        for producer in self.producers(c):
            alternatives = self.rule(producer)
            if alternatives is None:
                return None
            out.extend(alternatives)
        out = _minimal(out)
        return None if len(out) > self.limit else out

    def conditions(self, conditions: Iterable[Condition]) -> list[Conj] | None:
        """Alternatives under which every one of *conditions* can hold together."""
        result: list[Conj] | None = [frozenset()]
        # Case conditions first: they prune the product before it grows.
        for c in sorted(conditions, key=lambda c: c.kind != cond.CASE):
            result = product(result, self.condition(c), self.kb.vocabulary, self.limit)
            if not result:
                return result
        return result

    def rule(self, rule: RuleDef) -> list[Conj] | None:
        """The alternatives of case findings under which *rule* can fire."""
        if rule.id in self._rules:
            return self._rules[rule.id]
        if rule.id in self._stack:
            # A cycle: support through itself grounds nothing (least fixpoint).
            depth = self._stack.index(rule.id)
            self._cycle_depth = depth if self._cycle_depth is None else min(self._cycle_depth, depth)
            return []
        self._stack.append(rule.id)
        try:
            result = self.conditions(rule.conditions)
        finally:
            self._stack.pop()
        # A result computed inside a cycle depends on the path taken; cache only
        # once the walk is back above the cycle's entry.
        if self._cycle_depth is None or self._cycle_depth >= len(self._stack):
            self._cycle_depth = None
            self._rules[rule.id] = result
        return result

    def can_fire(self, rule: RuleDef) -> bool:
        """False only when *rule* certainly never fires (unknown counts as may fire)."""
        alternatives = self.rule(rule)
        return alternatives is None or bool(alternatives)

    def together(self, *rules: RuleDef) -> list[Conj] | None:
        """Alternatives under which all of *rules* can fire for one case."""
        result: list[Conj] | None = [frozenset()]
        for rule in rules:
            result = product(result, self.rule(rule), self.kb.vocabulary, self.limit)
            if not result:
                return result
        return result
