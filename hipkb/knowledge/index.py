"""The one index of a knowledge base: which rules conclude what, which read it, which a case blocks.

A condition on a derived fact, a red flag or a hypothesis can only hold if some
rule concludes it: these are the condition's *producers*. The partial-match
analysis, the next questions, the explanations (WHY NOT), the verifier, the
property checks and ``hipkb rules show`` all ask the same questions; they ask
them here, answered once per knowledge base (CLIPS keeps the same links
between patterns and the rules that assert into them):

- who concludes a subject (:meth:`RuleIndex.concluding`, :meth:`~RuleIndex.producers`)
  and who reads it (:meth:`~RuleIndex.readers`);
- which rules can change a conclusion, judged from their conclusions alone
  (:meth:`~RuleIndex.raising`, :meth:`~RuleIndex.concluding_bits`): what the next
  questions look at;
- which rules a case's known findings block: the conditions on findings by
  subject, each distinct one once with the rules that test it (as CLIPS shares
  one alpha node among the patterns that test the same thing), so a case's
  findings are tested once each (:meth:`~RuleIndex.blocked`);
- what a rule can wait on: the findings it reads and its conditions on
  conclusions with the rules that could make each hold (:attr:`~RuleIndex.waiting`).

Sets of rules are ints with one bit per rule, in the knowledge base's order
(:attr:`~RuleIndex.bit`, :meth:`~RuleIndex.of`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from functools import cached_property
from typing import TYPE_CHECKING, Any

from hipkb.knowledge.conditions import Condition, predicate
from hipkb.knowledge.kinds import Kind, Subject
from hipkb.knowledge.memo import per_knowledge_base
from hipkb.knowledge.scales import BANDS, RUNNING_ADVICE, TRIAGE_LEVELS, running_rank, triage_rank

#: What a rule can wait on: the case findings it reads (``unless`` aside: it
#: holds while its finding is unknown), and each condition on a conclusion
#: with its test and the rules that could make it hold (a bit set).
Waiting = tuple[frozenset[str], tuple[tuple[Condition, Callable[[Any], bool], int], ...]]

# The scale each decision kind concludes on, and its order: the first value is the most urgent or restrictive.
_SCALES: dict[Kind, tuple[tuple[str, ...], Callable[[str], int]]] = {
    Kind.TRIAGE: (TRIAGE_LEVELS, triage_rank), Kind.RUNNING: (RUNNING_ADVICE, running_rank)}

if TYPE_CHECKING:
    from hipkb.knowledge.rules import KnowledgeBase, RuleDef


class RuleIndex:
    """Producers and readers of every concluded subject of one knowledge base."""

    def __init__(self, rules: tuple[RuleDef, ...], red_flags: tuple[str, ...] = ()) -> None:
        self.rules = rules
        self._position = {id(rule): n for n, rule in enumerate(rules)}
        self.by_kind: dict[Kind, list[RuleDef]] = defaultdict(list)
        # (subject kind, subject) -> rules concluding it; derived facts by (name, value).
        self._concluding: dict[tuple[Subject, str], list[RuleDef]] = defaultdict(list)
        self._evidence: dict[tuple[str, int], list[RuleDef]] = defaultdict(list)
        self._readers: dict[tuple[Subject, str], list[RuleDef]] = defaultdict(list)
        # Derive rules by the fact they conclude, so finding a condition's
        # producers looks at that fact's rules only, not at every derive rule.
        self._deriving: dict[str, list[RuleDef]] = defaultdict(list)
        # Many rules read the same derived value: its producers are found once.
        self._derived_makers: dict[Condition, list[RuleDef]] = {}
        # Points rules by the score they add to: any of them can move its band.
        self._scoring: dict[str, list[RuleDef]] = defaultdict(list)
        # Exclusion status rules by the hypothesis they settle.
        self._statusing: dict[str, list[RuleDef]] = defaultdict(list)
        self.red_flags = red_flags or tuple(sorted({r.conclusion.target for r in rules
                                                    if r.conclusion.kind is Kind.RED_FLAG}))
        for rule in rules:
            c = rule.conclusion
            self.by_kind[c.kind].append(rule)
            produced = c.spec.produces
            if c.kind is Kind.POINTS:
                self._scoring[c.target].append(rule)
            elif c.kind is Kind.STATUS:
                self._statusing[c.target].append(rule)
            elif produced is Subject.DERIVED:
                self._concluding[(produced, f"{c.target}={c.value}")].append(rule)
                if c.kind is Kind.DERIVE:
                    self._deriving[c.target].append(rule)
            elif produced is Subject.RED_FLAG:
                self._concluding[(produced, c.target)].append(rule)
            elif produced is Subject.HYPOTHESIS:
                self._evidence[(c.target, c.spec.sign)].append(rule)
            for cond in rule.conditions:
                self._readers[(cond.kind, cond.subject)].append(rule)
        # Keyed by the id of each condition of the knowledge base, which the
        # entry keeps alive: hashing a frozen dataclass hashes all its fields
        # on every lookup, and the partial-match analysis looks up often.
        self._makers: dict[tuple[int, bool], tuple[Condition, tuple[RuleDef, ...]]] = {}
        for rule in rules:
            for cond in rule.conditions:
                if cond.kind is not Subject.CASE:
                    for necessary in (False, True):
                        self._makers[(id(cond), necessary)] = (cond, tuple(self._find(cond, necessary)))

    def concluding(self, kind: Kind, target: str) -> list[RuleDef]:
        """The rules of *kind* that conclude *target* (``name=value`` for derived facts)."""
        spec_kind = {Kind.DERIVE: Subject.DERIVED, Kind.RED_FLAG: Subject.RED_FLAG}.get(kind)
        if spec_kind is not None:
            return list(self._concluding.get((spec_kind, target), ()))
        if kind in (Kind.SUPPORTS, Kind.AGAINST):
            return list(self._evidence.get((target, 1 if kind is Kind.SUPPORTS else -1), ()))
        if kind is Kind.POINTS:
            return list(self._scoring.get(target, ()))
        if kind is Kind.STATUS:
            return list(self._statusing.get(target, ()))
        return [r for r in self.by_kind.get(kind, ()) if r.conclusion.target == target]

    def support(self, hypothesis: str) -> list[RuleDef]:
        """The rules that give evidence for *hypothesis*."""
        return list(self._evidence.get((hypothesis, 1), ()))

    def producers(self, c: Condition, *, necessary: bool = False) -> tuple[RuleDef, ...]:
        """The rules whose conclusion can make condition *c* hold.

        For a hypothesis band, any evidence can put it in a band; with
        *necessary*, only supporting rules are listed when the band needs a
        positive certainty (above ``unlikely``), since evidence against alone
        never gets it there.
        """
        found = self._makers.get((id(c), necessary))
        if found is not None and found[0] is c:
            return found[1]
        return tuple(self._find(c, necessary))

    def _find(self, c: Condition, necessary: bool) -> list[RuleDef]:
        if c.kind is Subject.DERIVED and c.subject in self._scoring:
            return list(self._scoring[c.subject])  # any points can move a score's band
        if c.kind is Subject.STATUS:
            return [r for r in self._statusing.get(c.subject, ()) if c.test(r.conclusion.value)]
        if c.kind is Subject.DERIVED:
            found = self._derived_makers.get(c)
            if found is None:
                found = self._derived_makers[c] = [r for r in self._deriving.get(c.subject, ())
                                                   if c.test(r.conclusion.value)]
            return list(found)
        if c.kind is Subject.RED_FLAG:
            wanted = c.values or self.red_flags
            return sorted({id(r): r for flag in wanted for r in self._concluding.get((Subject.RED_FLAG, flag), ())
                           }.values(), key=lambda r: self._position[id(r)])
        if c.kind is Subject.HYPOTHESIS:
            support = self._evidence.get((c.subject, 1), [])
            against = self._evidence.get((c.subject, -1), [])
            needs_support = all(b != "unlikely" for b in BANDS if c.test(b))
            if necessary and needs_support:
                return list(support)
            return sorted([*support, *against], key=lambda r: self._position[id(r)])
        return []

    # -- sets of rules as bit sets ----------------------------------------------

    @cached_property
    def bit(self) -> dict[str, int]:
        """Each rule's bit, by rule id: the knowledge base's order, the first rule lowest."""
        return {rule.id: 1 << n for n, rule in enumerate(self.rules)}

    def of(self, bits: int) -> list[RuleDef]:
        """The rules of a set of rules, in the knowledge base's order."""
        rules, found = self.rules, []
        while bits:
            low = bits & -bits
            found.append(rules[low.bit_length() - 1])
            bits ^= low
        return found

    def bits(self, rules: Iterable[RuleDef]) -> int:
        """The set of *rules*."""
        bit = self.bit
        return sum(bit[rule.id] for rule in {id(r): r for r in rules}.values())

    # -- which rules can change a conclusion, from their conclusions alone -------

    @cached_property
    def _by_target(self) -> dict[tuple[Kind, str], int]:
        found: dict[tuple[Kind, str], int] = defaultdict(int)
        bit = self.bit
        for rule in self.rules:
            found[(rule.conclusion.kind, rule.conclusion.target)] |= bit[rule.id]
        return dict(found)

    @cached_property
    def _by_kind(self) -> dict[Kind, int]:
        found: dict[Kind, int] = defaultdict(int)
        for (kind, _), bits in self._by_target.items():
            found[kind] |= bits
        return dict(found)

    @cached_property
    def _raising(self) -> dict[Kind, dict[str, int]]:
        found: dict[Kind, dict[str, int]] = {}
        for kind, (scale, rank) in _SCALES.items():
            found[kind] = {current: sum(bits for (k, target), bits in self._by_target.items()
                                        if k is kind and rank(target) < rank(current))
                           for current in scale}
        return found

    def concluding_bits(self, kind: Kind, target: str | None = None) -> int:
        """The rules of *kind* (that conclude *target*, when given), as a bit set."""
        if target is None:
            return self._by_kind.get(kind, 0)
        return self._by_target.get((kind, target), 0)

    def raising(self, kind: Kind, current: str) -> int:
        """The triage (or running) rules that conclude a more urgent (or restrictive) value than *current*."""
        return self._raising[kind][current]

    # -- what a case's known findings block -----------------------------------------

    @cached_property
    def case_tests(self) -> Mapping[str, tuple[tuple[Callable[[Any], bool], int], ...]]:
        """By finding (``group.field``): each distinct condition on it, as its test and the rules that read it."""
        tests: dict[str, dict[Condition, int]] = {}
        bit = self.bit
        for rule in self.rules:
            for c in rule.conditions:
                if c.kind is Subject.CASE:
                    by_condition = tests.setdefault(c.subject, {})
                    by_condition[c] = by_condition.get(c, 0) | bit[rule.id]
        return {subject: tuple((predicate(c), rules) for c, rules in by_condition.items())
                for subject, by_condition in tests.items()}

    def blocked(self, findings: Mapping[str, Any]) -> int:
        """The rules a known finding fails: no answer to any question can make them fire."""
        blocked = 0
        tests = self.case_tests
        for path, value in findings.items():
            for test, rules in tests.get(path, ()):
                if not test(value):
                    blocked |= rules
        return blocked

    @cached_property
    def waiting(self) -> dict[str, Waiting]:
        """By rule id, what the rule can wait on (see :data:`Waiting`).

        Only evidence for a hypothesis is what a band waits on; a condition on
        another conclusion waits on the rules that can make it hold.
        """
        found: dict[str, Waiting] = {}
        for rule in self.rules:
            on_conclusions = []
            for c in rule.conditions:
                if c.kind is not Subject.CASE:
                    makers = self.support(c.subject) if c.kind is Subject.HYPOTHESIS else self.producers(c)
                    on_conclusions.append((c, predicate(c), self.bits(makers)))
            reads = frozenset(c.subject for c in rule.conditions if c.kind is Subject.CASE and c.op != "unless")
            found[rule.id] = (reads, tuple(on_conclusions))
        return found

    def readers(self, rule: RuleDef) -> list[RuleDef]:
        """The rules with a condition that what *rule* concludes can satisfy."""
        produced = rule.conclusion.spec.produces
        if produced is None:
            return []
        subject = "red_flag" if produced is Subject.RED_FLAG else rule.conclusion.target
        return [r for r in self._readers.get((produced, subject), ())
                if any(rule in self.producers(c) for c in r.conditions if c.kind is produced)]


@per_knowledge_base
def index(kb: KnowledgeBase) -> RuleIndex:
    """The index of *kb*, built once."""
    return RuleIndex(kb.rules, tuple(kb.red_flags))


__all__ = ["RuleIndex", "index"]
