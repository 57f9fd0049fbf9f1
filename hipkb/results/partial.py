"""Where a rule stands for one case: which of its conditions hold, fail, or wait on unknowns.

This is the shell's partial-match analysis, the reference for every part
that asks what a rule lacks: the WHY NOT explanations (what a hypothesis
lacked, condition by condition), the next questions (what to ask to complete
a rule that nearly fired) and the exclusions (what would exclude an alarm
hypothesis). A condition on a derived fact that has not been concluded is not
simply false: if a rule that would conclude it is itself only waiting on
unknown findings, those findings are what it waits on. Who concludes what
is read from the knowledge base's index (:mod:`hipkb.knowledge.index`).

Where only the findings a rule waits on are wanted, for hundreds of rules
per case, :class:`~hipkb.results.waiting.Waiting` gives the same answer
without building statuses; an :class:`Analyzer` follows a chain of
conclusions through it (its own statuses with :meth:`Analyzer.reference`,
which the test that holds the two equal uses).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from hipkb.engine.record import Inference, unchecked
from hipkb.knowledge import conditions as cond
from hipkb.knowledge.conditions import Condition
from hipkb.knowledge.index import index
from hipkb.knowledge.rules import KnowledgeBase, RuleDef
from hipkb.results.waiting import MAX_DEPTH, Waiting, reachable_status

MET, UNMET, UNKNOWN = "met", "unmet", "unknown"


@dataclass(frozen=True)
class ConditionStatus:
    condition: Condition
    state: str
    waits_on: frozenset[str] = frozenset()
    found: str = ""


@dataclass(frozen=True)
class RuleStatus:
    """Where one rule stands: fired, or its conditions' states; what it waits on."""

    rule: RuleDef
    fired: bool
    conditions: tuple[ConditionStatus, ...]
    #: Some condition is known to fail: no answer can make the rule fire.
    blocked: bool = False
    #: The unknown findings (``group.field``) the rule waits on: none once it fired or is blocked.
    waits_on: frozenset[str] = frozenset()


_EMPTY: frozenset[str] = frozenset()


def _status(condition: Condition, state: str, waits_on: frozenset[str] = _EMPTY, found: str = "") -> ConditionStatus:
    return unchecked(ConditionStatus, condition=condition, state=state, waits_on=waits_on, found=found)


class Analyzer:
    """Partial matches of every rule of a knowledge base against one inference."""

    def __init__(self, kb: KnowledgeBase, inference: Inference, waiting: Waiting | None = None) -> None:
        self.kb = kb
        self.inference = inference
        self.fired = {f.rule for f in inference.firings}
        self._index = index(kb)
        #: The fast evaluator of what rules wait on, which this analysis follows chains of conclusions through.
        self.waiting = waiting or Waiting(kb, inference)
        self.waits_on: Callable[..., frozenset[str]] = self.waiting.waits_on
        self._nested: Callable[[RuleDef, int], frozenset[str]] = self.waiting.waits_on
        #: The case's known findings, by ``group.field``.
        self.findings = self.waiting.findings
        #: The rules a known finding fails, and the rules that fired (bit sets of the index).
        self.blocked_bits = self.waiting.blocked_bits
        self.fired_bits = self.waiting.fired_bits
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

    @classmethod
    def reference(cls, kb: KnowledgeBase, inference: Inference) -> Analyzer:
        """An analysis that follows chains of conclusions through its own statuses, never through :class:`Waiting`."""
        analyzer = cls(kb, inference)
        analyzer._nested = analyzer.waits_on = lambda rule, depth=0: analyzer.rule(rule, depth).waits_on
        return analyzer

    def rule(self, rule: RuleDef, depth: int = 0) -> RuleStatus:
        found = self._cache.get(rule.id) or self._cache.get((rule.id, depth))
        if found is not None:
            return found
        statuses = tuple([self.condition(c, depth) for c in rule.conditions])
        fired = rule.id in self.fired
        blocked = any(c.state == UNMET for c in statuses)
        waits = _EMPTY if fired or blocked else frozenset().union(*[c.waits_on for c in statuses])
        status = unchecked(RuleStatus, rule=rule, fired=fired, conditions=statuses, blocked=blocked, waits_on=waits)
        settled = fired or any(c.state == UNMET and c.condition.kind is cond.CASE for c in statuses)
        self._cache[rule.id if settled else (rule.id, depth)] = status
        return status

    def rules(self, rules: Iterable[RuleDef] | None = None) -> list[RuleStatus]:
        return [self.rule(r) for r in (self.kb.rules if rules is None else rules)]

    def condition(self, c: Condition, depth: int = 0) -> ConditionStatus:
        inference = self.inference
        if c.kind is cond.CASE:
            found = self._case_status.get(id(c))
            if found is None or found.condition is not c:
                found = self._case_status[id(c)] = self._case_condition(c)
            return found
        if c.kind is cond.HYPOTHESIS:
            score = inference.scores.get(c.subject)
            if inference.holds(c):
                return _status(c, MET, found=f"{c.key}={score.band if score else ''}")
            # Not there yet: what would raise it is what its evidence rules wait on.
            evidence = self._index.support(c.subject)
            waits = self._waits_of(evidence, depth) if depth < MAX_DEPTH else frozenset()
            band = f"{c.key}={score.band if score else 'none'}"
            return _status(c, UNKNOWN if waits and depth < MAX_DEPTH else UNMET, waits, band)
        if c.kind is cond.RED_FLAG:
            if inference.holds(c):
                return _status(c, MET, found="red_flag=" + ",".join(sorted(inference.red_flags)))
            waits = self._waits_of(self._index.producers(c), depth)
            return _status(c, UNKNOWN if waits else UNMET, waits)
        if c.kind is cond.STATUS:
            status = inference.exclusions.get(c.subject)
            if inference.holds(c):
                return _status(c, MET, found=f"{c.key}={status.value if status else ''}")
            reachable = reachable_status(inference, c) and depth < MAX_DEPTH
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
        nested = self._nested
        for rule in rules:
            waits |= nested(rule, depth + 1)
        return frozenset(waits)


__all__ = ["MAX_DEPTH", "MET", "UNKNOWN", "UNMET", "Analyzer", "ConditionStatus", "RuleStatus"]
