"""What each rule waits on for one case, the fast way: the partial-match analysis's hot path.

:class:`~hipkb.results.partial.Analyzer` says where a rule stands condition by
condition (the reference: what WHY NOT shows); the next questions and the
exclusions only need the unknown findings a rule waits on, for hundreds of
rules per case. :class:`Waiting` gives the same answer from the index's bit
sets (:mod:`hipkb.knowledge.index`) without building any status: most rules
are blocked by a known finding (one bit test), and most of the rest by a
conclusion that was not reached, where the first failing condition settles
it and the conditions after it (and the rules that would conclude what they
read) are never looked at. ``tests/results/test_waiting.py`` holds it equal
to the reference, rule by rule.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hipkb.engine.record import Inference
from hipkb.knowledge import conditions as cond
from hipkb.knowledge.conditions import Condition
from hipkb.knowledge.index import index
from hipkb.knowledge.rules import KnowledgeBase, RuleDef
from hipkb.knowledge.scales import STATUSES

#: How deep a chain of conclusions is followed back to the findings it waits on.
MAX_DEPTH = 4

_EMPTY: frozenset[str] = frozenset()


def reachable_status(inference: Inference, c: Condition) -> bool | None:
    """For a condition on an exclusion status: None when it holds, else whether more findings could make it.

    More findings only add votes, and the settled status is the first of
    ``STATUSES`` with a vote: a status behind the current one (not excluded,
    when suspected or excluded already) can never come.
    """
    choice = inference.exclusions.get(c.subject)
    if choice is None:
        return True
    if c.test(choice.value):
        return None
    ahead = STATUSES[:STATUSES.index(choice.value)]
    return any(c.test(status) for status in ahead)


class Waiting:
    """The unknown findings each rule waits on, for one inference."""

    def __init__(self, kb: KnowledgeBase, inference: Inference) -> None:
        self.inference = inference
        self._index = rules = index(kb)
        self._bit = rules.bit
        self._waiting = rules.waiting
        #: The case's known findings, by ``group.field``.
        self.findings = dict(inference.case.facts())
        self._known = frozenset(self.findings)
        # Derived values concluded for each derived fact, in the order concluded.
        self._derived = inference.derived_by_name()
        #: The rules a known finding fails, and the rules that fired (bit sets of the index).
        self.blocked_bits = rules.blocked(self.findings)
        bit = self._bit
        self.fired_bits = sum(bit.get(rule_id, 0) for rule_id in {f.rule for f in inference.firings})
        # Rules whose status holds at any depth: they wait on nothing.
        self._settled = self.blocked_bits | self.fired_bits
        # What each rule waits on, by (rule id, depth): past MAX_DEPTH a chain
        # is cut short, and an answer cut short must not be handed to a
        # shallower caller, or it would depend on the order rules were asked in.
        self._waits: dict[tuple[str, int], frozenset[str]] = {}
        # What each distinct condition on a conclusion waits on, by depth (see _condition).
        self._conditions: dict[tuple[int, int], frozenset[str] | None] = {}

    def waits_on(self, rule: RuleDef, depth: int = 0) -> frozenset[str]:
        """The unknown findings (``group.field``) *rule* waits on: none once it fired or cannot fire."""
        rule_id = rule.id
        if self._settled & self._bit[rule_id]:
            return _EMPTY  # fired, or blocked by a known finding: at any depth
        cache = self._waits
        key = (rule_id, depth)
        found = cache.get(key)
        if found is not None:
            return found
        reads, on_conclusions = self._waiting[rule_id]
        found = reads - self._known
        if on_conclusions:
            waits = set(found)
            for c, test, makers in on_conclusions:
                waiting = self._condition(c, test, makers, depth)
                if waiting is None:
                    cache[key] = _EMPTY
                    return _EMPTY
                waits |= waiting
            found = frozenset(waits)
        cache[key] = found
        return found

    def _condition(self, c: Condition, test: Callable[[Any], bool], makers: int,
                   depth: int) -> frozenset[str] | None:
        """What a condition on a conclusion waits on; None when it is unmet, as the reference judges it.

        *test* is the condition's predicate and *makers* the rules that could
        make it hold (a bit set): those that fired or are blocked wait on
        nothing, so only the others are looked into. Many rules share a
        condition (``bsi_risk: moderate``, say): its answer at a depth is
        worked out once (the predicate is one object per distinct condition).
        """
        memo = self._conditions
        key = (id(test), depth)
        if key in memo:
            return memo[key]
        found = memo[key] = self._condition_of(c, test, makers, depth)
        return found

    def _condition_of(self, c: Condition, test: Callable[[Any], bool], makers: int,
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
            reachable = reachable_status(self.inference, c)
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
        for rule in self._index.of(live):
            waits |= waits_on(rule, deeper)
        return frozenset(waits) if waits else None


__all__ = ["MAX_DEPTH", "Waiting", "reachable_status"]
