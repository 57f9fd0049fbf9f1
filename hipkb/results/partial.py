"""Where a rule stands for one case: which of its conditions hold, fail, or wait on unknowns.

This is the shell's partial-match analysis, shared by the next-question
ranking (what to ask to complete a rule that nearly fired) and the WHY NOT
explanations (what a hypothesis lacked). A condition on a derived fact that
has not been concluded is not simply false: if a rule that would conclude it
is itself only waiting on unknown findings, those findings are what it waits on.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from hipkb.engine.record import Inference, unchecked
from hipkb.knowledge import conditions as cond
from hipkb.knowledge.conditions import Condition, predicate
from hipkb.knowledge.index import index
from hipkb.knowledge.memo import per_knowledge_base
from hipkb.knowledge.rules import KnowledgeBase, RuleDef
from hipkb.knowledge.scales import STATUSES

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


def _status(condition: Condition, state: str, waits_on: frozenset[str] = _EMPTY, found: str = "") -> ConditionStatus:
    return unchecked(ConditionStatus, condition=condition, state=state, waits_on=waits_on, found=found)


class RuleBits:
    """What :meth:`Analyzer.waits_on` reads of one knowledge base, worked out once.

    Rules are numbered in the knowledge base's order, and a set of rules is an
    int with one bit per rule. The conditions on case findings are held by
    subject, each distinct condition once with the rules that test it (as
    CLIPS shares one alpha node among the patterns that test the same thing),
    so one case's findings are tested once each, whatever many rules read them.
    """

    def __init__(self, kb: KnowledgeBase) -> None:
        rule_index = index(kb)
        self.rules = kb.rules
        self.bit: dict[str, int] = {}
        for n, rule in enumerate(kb.rules):
            self.bit[rule.id] = 1 << n
        #: Per rule: the case findings it reads, and its conditions on
        #: conclusions, each with its test and the rules that could make it hold.
        self.reads: dict[str, frozenset[str]] = {}
        self.on_conclusions: dict[str, tuple[tuple[Condition, Callable[[Any], bool], int], ...]] = {}
        tests: dict[str, dict[Condition, int]] = {}
        for rule in kb.rules:
            bit = self.bit[rule.id]
            on_conclusions = []
            for c in rule.conditions:
                if c.kind is cond.CASE:
                    by_condition = tests.setdefault(c.subject, {})
                    by_condition[c] = by_condition.get(c, 0) | bit
                else:
                    # Only evidence for a hypothesis is what a band waits on.
                    makers = rule_index.support(c.subject) if c.kind is cond.HYPOTHESIS else rule_index.producers(c)
                    on_conclusions.append((c, predicate(c), sum(self.bit[r.id] for r in makers)))
            # An unless holds while its finding is unknown: the rule does not wait on it.
            self.reads[rule.id] = frozenset(c.subject for c in rule.conditions
                                            if c.kind is cond.CASE and c.op != "unless")
            self.on_conclusions[rule.id] = tuple(on_conclusions)
        self.tests: dict[str, tuple[tuple[Callable[[Any], bool], int], ...]] = {
            subject: tuple((predicate(c), rules) for c, rules in by_condition.items())
            for subject, by_condition in tests.items()
        }

    def blocked(self, findings: dict[str, Any]) -> int:
        """The rules a known finding fails: no answer to any question can make them fire."""
        blocked = 0
        tests = self.tests
        for path, value in findings.items():
            for test, rules in tests.get(path, ()):
                if not test(value):
                    blocked |= rules
        return blocked

    def of(self, bits: int) -> list[RuleDef]:
        """The rules of a set of rules, in the knowledge base's order."""
        rules, found = self.rules, []
        while bits:
            low = bits & -bits
            found.append(rules[low.bit_length() - 1])
            bits ^= low
        return found


@per_knowledge_base
def rule_bits(kb: KnowledgeBase) -> RuleBits:
    """The :class:`RuleBits` of *kb*, built on first use and kept while it lives."""
    return RuleBits(kb)


class Analyzer:
    """Partial matches of every rule of a knowledge base against one inference."""

    def __init__(self, kb: KnowledgeBase, inference: Inference) -> None:
        self.kb = kb
        self.inference = inference
        self.fired = {f.rule for f in inference.firings}
        self._index = index(kb)
        # Derived values concluded for each derived fact, in the order concluded.
        self._derived = inference.derived_by_name()
        # Keyed by rule id where the status holds at any depth (fired, or
        # blocked by a known finding), else by (rule id, depth): past
        # MAX_DEPTH a chain is cut short, and a status cut short must not be
        # handed to a shallower caller, or the answer would depend on the order
        # in which rules were analysed.
        self._cache: dict[object, RuleStatus] = {}
        # A condition on a case finding stands the same wherever it is asked from.
        self._case_status: dict[int, ConditionStatus] = {}  # by id(condition)
        #: The case's known findings, by ``group.field``.
        self.findings = dict(inference.case.facts())
        # What each rule waits on, cached as statuses are (see waits_on).
        self._waits: dict[object, frozenset[str]] = {}
        # What each distinct condition on a conclusion waits on, by depth (see _waiting).
        self._waiting_memo: dict[tuple[int, int], frozenset[str] | None] = {}
        self._bits = rule_bits(kb)
        self._known = frozenset(self.findings)
        #: The rules a known finding fails, and the rules that fired (bit sets, see :class:`RuleBits`).
        self.blocked_bits = self._bits.blocked(self.findings)
        bit = self._bits.bit
        self.fired_bits = sum(bit.get(rule_id, 0) for rule_id in self.fired)
        # Rules whose status holds at any depth: they wait on nothing.
        self._settled = self.blocked_bits | self.fired_bits

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
        status = unchecked(RuleStatus, rule=rule, fired=fired, conditions=statuses, blocked=blocked, waits_on=waits)
        settled = fired or any(c.state == UNMET and c.condition.kind == cond.CASE for c in statuses)
        self._cache[rule.id if settled else (rule.id, depth)] = status
        return status

    def waits_on(self, rule: RuleDef, depth: int = 0) -> frozenset[str]:
        """``self.rule(rule, depth).waits_on``, worked out without building the statuses.

        Most rules are blocked by a known finding (one bit test, see
        :class:`RuleBits`), and most of the rest by a conclusion that was not
        reached: the first failing condition settles it, so the conditions
        after it (and the rules that would conclude what they read) are never
        looked at. Cached by the same keys as :meth:`rule`, so the answer does
        not depend on what was asked before.
        """
        bits = self._bits
        rule_id = rule.id
        if self._settled & bits.bit[rule_id]:
            return _EMPTY  # fired, or blocked by a known finding: at any depth
        cache = self._waits
        key = (rule_id, depth)
        found = cache.get(key)
        if found is not None:
            return found
        found = bits.reads[rule_id] - self._known
        on_conclusions = bits.on_conclusions[rule_id]
        if on_conclusions:
            waits = set(found)
            for c, test, makers in on_conclusions:
                waiting = self._waiting(c, test, makers, depth)
                if waiting is None:
                    cache[key] = _EMPTY
                    return _EMPTY
                waits |= waiting
            found = frozenset(waits)
        cache[key] = found
        return found

    def _waiting(self, c: Condition, test: Callable[[Any], bool], makers: int, depth: int) -> frozenset[str] | None:
        """What a condition on a conclusion waits on; None when it is unmet, as :meth:`condition` judges.

        *test* is the condition's predicate and *makers* the rules that could
        make it hold (a bit set): those that fired or are blocked wait on
        nothing, so only the others are looked into. Many rules share a
        condition (``bsi_risk: moderate``, say): its answer at a depth is
        worked out once (the predicate is one object per distinct condition).
        """
        memo = self._waiting_memo
        key = (id(test), depth)
        if key in memo:
            return memo[key]
        found = memo[key] = self._waiting_of(c, test, makers, depth)
        return found

    def _waiting_of(self, c: Condition, test: Callable[[Any], bool], makers: int,
                    depth: int) -> frozenset[str] | None:
        kind = c.kind
        if kind is cond.DERIVED:
            for value in self._derived.get(c.subject, ()):  # inference.holds(c), without its dispatch
                if test(value):
                    return _EMPTY
            if depth >= MAX_DEPTH:
                return None
        elif kind is cond.HYPOTHESIS:
            score = self.inference.scores.get(c.subject)
            if score is not None and test(score.band):
                return _EMPTY
            if depth >= MAX_DEPTH:
                return None
        elif kind is cond.STATUS:
            reachable = self._reachable_status(c)
            if reachable is None:
                return _EMPTY
            if not reachable or depth >= MAX_DEPTH:
                return None
        elif self.inference.holds(c):
            return _EMPTY
        live = makers & ~self._settled
        if not live:
            return None
        waits: set[str] = set()
        waits_on, deeper = self.waits_on, depth + 1
        for rule in self._bits.of(live):
            waits |= waits_on(rule, deeper)
        return frozenset(waits) if waits else None

    def _reachable_status(self, c: Condition) -> bool | None:
        """For a condition on an exclusion status: None when it holds, else whether more findings could make it.

        More findings only add votes, and the settled status is the first of
        ``STATUSES`` with a vote: a status behind the current one (not excluded,
        when suspected or excluded already) can never come.
        """
        choice = self.inference.exclusions.get(c.subject)
        if choice is None:
            return True
        if c.test(choice.value):
            return None
        ahead = STATUSES[:STATUSES.index(choice.value)]
        return any(c.test(status) for status in ahead)

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
        if c.kind == cond.STATUS:
            status = inference.exclusions.get(c.subject)
            if inference.holds(c):
                return _status(c, MET, found=f"{c.key}={status.value if status else ''}")
            reachable = self._reachable_status(c) and depth < MAX_DEPTH
            waits = self._waits_of(self._index.producers(c), depth) if reachable else frozenset()
            return _status(c, UNKNOWN if waits else UNMET, waits, f"{c.key}={status.value if status else 'none'}")
        # Derived fact: present with a matching value, or waiting on its producers.
        if inference.holds(c):
            return _status(c, MET, found=f"{c.key}={self._derived[c.subject][0]}")
        waits = self._waits_of(self._index.producers(c), depth) if depth < MAX_DEPTH else frozenset()
        return _status(c, UNKNOWN if waits else UNMET, waits)

    def _case_condition(self, c: Condition) -> ConditionStatus:
        value = self.findings.get(c.subject)
        if value is None:
            if c.op == "unless":
                return _status(c, MET, found=f"{c.key}=unknown")
            return _status(c, UNKNOWN, frozenset({c.subject}))
        shown = ",".join(value) if isinstance(value, tuple) else str(value)
        return _status(c, MET if c.test(value) else UNMET, found=f"{c.key}={shown}")

    def _waits_of(self, rules: Iterable[RuleDef], depth: int = 0) -> frozenset[str]:
        waits: set[str] = set()
        for rule in rules:
            waits |= self.waits_on(rule, depth + 1)
        return frozenset(waits)
