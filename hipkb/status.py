"""Where a rule stands for one case: which of its conditions hold, fail, or wait on unknowns.

This is the shell's partial-match analysis, shared by the next-question
ranking (what to ask to complete a rule that nearly fired) and the WHY NOT
explanations (what a hypothesis lacked). A condition on a derived fact that
has not been concluded is not simply false: if a rule that would conclude it
is itself only waiting on unknown findings, those findings are what it waits on.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property

from . import conditions as cond
from .conditions import Condition
from .inference import Inference
from .kb import KnowledgeBase, RuleDef

MET, UNMET, UNKNOWN = "met", "unmet", "unknown"
MAX_DEPTH = 4


@dataclass(frozen=True)
class ConditionStatus:
    condition: Condition
    state: str
    waits_on: frozenset[str] = frozenset()
    found: str = ""


@dataclass(frozen=True)
class RuleStatus:
    rule: RuleDef
    fired: bool
    conditions: tuple[ConditionStatus, ...]

    @cached_property
    def blocked(self) -> bool:
        """Some condition is known to fail: no answer can make the rule fire."""
        return any(c.state == UNMET for c in self.conditions)

    @cached_property
    def waits_on(self) -> frozenset[str]:
        """The unknown findings (``group.field``) the rule waits on."""
        if self.fired or self.blocked:
            return frozenset()
        return frozenset().union(*(c.waits_on for c in self.conditions))


class Analyzer:
    """Partial matches of every rule of a knowledge base against one inference."""

    def __init__(self, kb: KnowledgeBase, inference: Inference) -> None:
        self.kb = kb
        self.inference = inference
        self.fired = {f.rule for f in inference.firings}
        self.producers: dict[tuple[str, str], list[RuleDef]] = {}
        for rule in kb.rules:
            c = rule.conclusion
            if c.kind == "derive":
                self.producers.setdefault((c.target, c.value), []).append(rule)
            elif c.kind == "red_flag":
                self.producers.setdefault(("red_flag", c.target), []).append(rule)
        self._cache: dict[str, RuleStatus] = {}

    def rule(self, rule: RuleDef, depth: int = 0) -> RuleStatus:
        found = self._cache.get(rule.id)
        if found is not None:
            return found
        statuses = tuple(self.condition(c, depth) for c in rule.conditions)
        status = RuleStatus(rule, rule.id in self.fired, statuses)
        if depth == 0 or status.fired or status.blocked:
            self._cache[rule.id] = status
        return status

    def rules(self, rules: Iterable[RuleDef] | None = None) -> list[RuleStatus]:
        return [self.rule(r) for r in (self.kb.rules if rules is None else rules)]

    def condition(self, c: Condition, depth: int = 0) -> ConditionStatus:
        inference = self.inference
        if c.kind == cond.CASE:
            value = inference.case.get(c.subject)
            if value is None:
                return ConditionStatus(c, UNKNOWN, frozenset({c.subject}))
            shown = ",".join(value) if isinstance(value, tuple) else str(value)
            return ConditionStatus(c, MET if c.test(value) else UNMET, found=f"{c.key}={shown}")
        if c.kind == cond.HYPOTHESIS:
            score = inference.scores.get(c.subject)
            if score is not None and c.test(score.band):
                return ConditionStatus(c, MET, found=f"{c.key}={score.band}")
            # Not there yet: what would raise it is what its evidence rules wait on.
            evidence = [r for r in self.kb.rules
                        if r.conclusion.kind == "supports" and r.conclusion.target == c.subject]
            waits = self._waits_of(evidence, depth) if depth < MAX_DEPTH else frozenset()
            found = f"{c.key}={score.band if score else 'none'}"
            return ConditionStatus(c, UNKNOWN if waits and depth < MAX_DEPTH else UNMET, waits, found)
        if c.kind == cond.RED_FLAG:
            flags = set(inference.red_flags)
            if (flags & set(c.values)) if c.values else flags:
                return ConditionStatus(c, MET, found="red_flag=" + ",".join(sorted(flags)))
            wanted = c.values or tuple(self.kb.red_flags)
            rules = [r for flag in wanted for r in self.producers.get(("red_flag", flag), [])]
            waits = self._waits_of(rules, depth)
            return ConditionStatus(c, UNKNOWN if waits else UNMET, waits)
        # Derived fact: present with a matching value, or waiting on its producers.
        present = [key.split("=", 1)[1] for key in inference.derived if key.split("=", 1)[0] == c.subject]
        if any(c.test(v) for v in present):
            return ConditionStatus(c, MET, found=f"{c.key}={present[0]}")
        values = c.values if c.op == "in" else [v for v in self.kb.derived[c.subject].values if c.test(v)]
        rules = [r for v in values for r in self.producers.get((c.subject, v), [])]
        waits = self._waits_of(rules, depth) if depth < MAX_DEPTH else frozenset()
        return ConditionStatus(c, UNKNOWN if waits else UNMET, waits)

    def _waits_of(self, rules: Iterable[RuleDef], depth: int = 0) -> frozenset[str]:
        waits: set[str] = set()
        for rule in rules:
            status = self.rule(rule, depth + 1)
            waits |= status.waits_on
        return frozenset(waits)
