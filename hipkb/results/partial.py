"""Where a rule stands for one case: which of its conditions hold, fail, or wait on unknowns.

This is the shell's partial-match analysis, shared by the next-question
ranking (what to ask to complete a rule that nearly fired) and the WHY NOT
explanations (what a hypothesis lacked). A condition on a derived fact that
has not been concluded is not simply false: if a rule that would conclude it
is itself only waiting on unknown findings, those findings are what it waits on.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from hipkb.engine.record import Inference
from hipkb.knowledge import conditions as cond
from hipkb.knowledge.conditions import Condition, predicate
from hipkb.knowledge.index import index
from hipkb.knowledge.rules import KnowledgeBase, RuleDef

MET, UNMET, UNKNOWN = "met", "unmet", "unknown"
MAX_DEPTH = 4


@dataclass(frozen=True)
class ConditionStatus:
    condition: Condition
    state: str
    waits_on: frozenset[str] = frozenset()
    found: str = ""


T = TypeVar("T")


class _once(Generic[T]):
    """``functools.cached_property`` without its lock (Python < 3.12 takes one
    on every first read, and the analysis of one case reads hundreds)."""

    def __init__(self, func: Callable[[Any], T]) -> None:
        self.func = func
        self.name = func.__name__
        self.__doc__ = func.__doc__

    def __get__(self, instance: Any, owner: type | None = None) -> Any:
        if instance is None:
            return self
        value = instance.__dict__[self.name] = self.func(instance)
        return value


@dataclass(frozen=True)
class RuleStatus:
    rule: RuleDef
    fired: bool
    conditions: tuple[ConditionStatus, ...]

    @_once
    def blocked(self) -> bool:
        """Some condition is known to fail: no answer can make the rule fire."""
        return any(c.state == UNMET for c in self.conditions)

    @_once
    def waits_on(self) -> frozenset[str]:
        """The unknown findings (``group.field``) the rule waits on."""
        if self.fired or self.blocked:
            return frozenset()
        return frozenset().union(*(c.waits_on for c in self.conditions))


_EMPTY: frozenset[str] = frozenset()


def _new(cls: type[T], fields: dict[str, Any]) -> T:
    """An instance of a frozen dataclass, made without its __init__.

    A frozen dataclass sets each field through ``object.__setattr__``; the
    analysis of one case makes hundreds of statuses. The object is the same.
    """
    obj = object.__new__(cls)
    obj.__dict__.update(fields)
    return obj


def _status(condition: Condition, state: str, waits_on: frozenset[str] = _EMPTY, found: str = "") -> ConditionStatus:
    return _new(ConditionStatus, {"condition": condition, "state": state, "waits_on": waits_on, "found": found})


_SPLITS: weakref.WeakKeyDictionary[KnowledgeBase, dict[str, Split]] = weakref.WeakKeyDictionary()
# A rule's conditions on case findings (subject and test), and its conditions on conclusions.
Split = tuple[tuple[tuple[str, Callable[[Any], bool]], ...], tuple[Condition, ...]]


def _split(kb: KnowledgeBase) -> dict[str, Split]:
    """Each rule's conditions, split as :meth:`Analyzer.waits_on` reads them; worked out once per knowledge base."""
    found = _SPLITS.get(kb)
    if found is None:
        found = _SPLITS[kb] = {
            rule.id: (tuple((c.subject, predicate(c)) for c in rule.conditions if c.kind is cond.CASE),
                      tuple(c for c in rule.conditions if c.kind is not cond.CASE))
            for rule in kb.rules
        }
    return found


class Analyzer:
    """Partial matches of every rule of a knowledge base against one inference."""

    def __init__(self, kb: KnowledgeBase, inference: Inference) -> None:
        self.kb = kb
        self.inference = inference
        self.fired = {f.rule for f in inference.firings}
        self._index = index(kb)
        # Derived values concluded for each derived fact, in the order concluded.
        self._derived: dict[str, list[str]] = {}
        for key in inference.derived:
            name, value = key.split("=", 1)
            self._derived.setdefault(name, []).append(value)
        # Keyed by rule id where the status holds at any depth (fired, or
        # blocked by a known finding), else by (rule id, depth): past
        # MAX_DEPTH a chain is cut short, and a status cut short must not be
        # handed to a shallower caller, or the answer would depend on the order
        # in which rules were analysed.
        self._cache: dict[object, RuleStatus] = {}
        # A condition on a case finding stands the same wherever it is asked from.
        self._case_status: dict[int, ConditionStatus] = {}  # by id(condition)
        self._findings = {path: value for path, value in inference.case.facts()}
        # What each rule waits on, cached as statuses are (see waits_on).
        self._waits: dict[object, frozenset[str]] = {}
        self._split = _split(kb)

    def rule(self, rule: RuleDef, depth: int = 0) -> RuleStatus:
        found = self._cache.get(rule.id) or self._cache.get((rule.id, depth))
        if found is not None:
            return found
        statuses = tuple([self.condition(c, depth) for c in rule.conditions])
        fired = rule.id in self.fired
        # What RuleStatus.blocked and .waits_on would work out on first read,
        # worked out here: the analysis reads both of nearly every status.
        blocked = any(c.state == UNMET for c in statuses)
        waits = _EMPTY if fired or blocked else frozenset().union(*[c.waits_on for c in statuses])
        status = _new(RuleStatus, {"rule": rule, "fired": fired, "conditions": statuses,
                                   "blocked": blocked, "waits_on": waits})
        settled = fired or any(c.state == UNMET and c.condition.kind == cond.CASE for c in statuses)
        self._cache[rule.id if settled else (rule.id, depth)] = status
        return status

    def waits_on(self, rule: RuleDef, depth: int = 0) -> frozenset[str]:
        """``self.rule(rule, depth).waits_on``, worked out without building the statuses.

        Most rules are blocked by a known finding, and most of the rest by a
        conclusion that was not reached: the first failing condition settles
        it, so the conditions after it (and the rules that would conclude what
        they read) are never looked at. Cached by the same keys as
        :meth:`rule`, so the answer does not depend on what was asked before.
        """
        cache = self._waits
        found = cache.get(rule.id)
        if found is None:
            found = cache.get((rule.id, depth))
        if found is not None:
            return found
        if rule.id in self.fired:
            cache[rule.id] = _EMPTY
            return _EMPTY
        on_case, on_conclusions = self._split[rule.id]
        waits: set[str] = set()
        findings = self._findings
        for subject, test in on_case:
            value = findings.get(subject)
            if value is None:
                waits.add(subject)
            elif not test(value):
                cache[rule.id] = _EMPTY  # blocked by a known finding, at any depth
                return _EMPTY
        for c in on_conclusions:
            waiting = self._waiting(c, depth)
            if waiting is None:
                cache[(rule.id, depth)] = _EMPTY
                return _EMPTY
            waits |= waiting
        found = cache[(rule.id, depth)] = frozenset(waits)
        return found

    def _waiting(self, c: Condition, depth: int) -> frozenset[str] | None:
        """What a condition on a conclusion waits on; None when it is unmet (as :meth:`condition` judges)."""
        inference = self.inference
        if inference.holds(c):
            return _EMPTY
        if c.kind == cond.HYPOTHESIS:
            if depth >= MAX_DEPTH:
                return None
            return self._waits_of(self._index.support(c.subject), depth) or None
        if c.kind == cond.RED_FLAG:
            return self._waits_of(self._index.producers(c), depth) or None
        if depth >= MAX_DEPTH:
            return None
        return self._waits_of(self._index.producers(c), depth) or None

    def rules(self, rules: Iterable[RuleDef] | None = None) -> list[RuleStatus]:
        return [self.rule(r) for r in (self.kb.rules if rules is None else rules)]

    def condition(self, c: Condition, depth: int = 0) -> ConditionStatus:
        inference = self.inference
        if c.kind == cond.CASE:
            found = self._case_status.get(id(c))
            if found is None or found.condition is not c:
                found = self._case_status[id(c)] = self._case_condition(c)
            return found
        if c.kind == cond.HYPOTHESIS:
            score = inference.scores.get(c.subject)
            if inference.holds(c):
                return _status(c, MET, found=f"{c.key}={score.band if score else ''}")
            # Not there yet: what would raise it is what its evidence rules wait on.
            evidence = self._index.support(c.subject)
            waits = self._waits_of(evidence, depth) if depth < MAX_DEPTH else frozenset()
            band = f"{c.key}={score.band if score else 'none'}"
            return _status(c, UNKNOWN if waits and depth < MAX_DEPTH else UNMET, waits, band)
        if c.kind == cond.RED_FLAG:
            if inference.holds(c):
                return _status(c, MET, found="red_flag=" + ",".join(sorted(inference.red_flags)))
            waits = self._waits_of(self._index.producers(c), depth)
            return _status(c, UNKNOWN if waits else UNMET, waits)
        # Derived fact: present with a matching value, or waiting on its producers.
        if inference.holds(c):
            return _status(c, MET, found=f"{c.key}={self._derived[c.subject][0]}")
        waits = self._waits_of(self._index.producers(c), depth) if depth < MAX_DEPTH else frozenset()
        return _status(c, UNKNOWN if waits else UNMET, waits)

    def _case_condition(self, c: Condition) -> ConditionStatus:
        value = self._findings.get(c.subject)
        if value is None:
            return _status(c, UNKNOWN, frozenset({c.subject}))
        shown = ",".join(value) if isinstance(value, tuple) else str(value)
        return _status(c, MET if c.test(value) else UNMET, found=f"{c.key}={shown}")

    def _waits_of(self, rules: Iterable[RuleDef], depth: int = 0) -> frozenset[str]:
        waits: set[str] = set()
        for rule in rules:
            waits |= self.waits_on(rule, depth + 1)
        return frozenset(waits)
