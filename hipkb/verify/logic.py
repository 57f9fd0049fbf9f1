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
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from itertools import islice
from typing import Any

from hipkb.knowledge import conditions as cond
from hipkb.knowledge.components import components
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
    """Whether one value of *spec* (or its being unknown) satisfies every one of *conditions*."""
    if all(c.op == "unless" for c in conditions):
        return True  # an unless holds while the finding is unknown
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
    if b.op == "unless" and a.op != "unless":
        return False  # b holds while the finding is unknown, a never does
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
        conditions = [c for c in by_subject.get(path, ()) if c.op != "unless"] or None
        if conditions is None and not spec.required:
            continue  # nothing to say, or only unless: left unknown, which an unless allows
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


def _order(conj: Conj) -> tuple[int, list[str]]:
    return len(conj), sorted(map(repr, conj))


def _minimal(alternatives: list[Conj], order: Callable[[Conj], Any] = _order,
             cap: int | None = None) -> list[Conj]:
    """Drop alternatives that hold a smaller one (they add nothing), in a canonical order.

    The order depends only on the alternatives themselves, never on how they
    were found, so that an expansion computed along any path reads the same.
    With *cap*, stop once more than *cap* are kept (the caller gives up then).
    """
    alternatives = sorted(set(alternatives), key=order)
    kept: list[Conj] = []
    # The order puts shorter alternatives first, and a distinct alternative
    # of the same length is never inside another: each is compared with the
    # shorter ones kept so far only.
    shorter, length = 0, -1
    for alt in alternatives:
        if len(alt) != length:
            shorter, length = len(kept), len(alt)
        if shorter and any(map(alt.issuperset, islice(kept, shorter))):
            continue
        kept.append(alt)
        if cap is not None and len(kept) > cap:
            break
    return kept


class Joiner:
    """Conjunction of expansions over one vocabulary, with what it learns memoised.

    Every alternative of an expansion is consistent on its own, so a union of
    two can only fail on a field both constrain: only those fields are
    checked, and each distinct set of conditions on a field once.
    """

    def __init__(self, vocabulary: Vocabulary, limit: int = MAX_ALTERNATIVES) -> None:
        self.vocabulary = vocabulary
        self.limit = limit
        self._satisfiable: dict[frozenset[Condition], bool] = {}
        self._subjects: dict[Conj, frozenset[str]] = {}
        self._keys: dict[Conj, tuple[int, list[str]]] = {}
        self._reprs: dict[Condition, str] = {}

    def order(self, conj: Conj) -> tuple[int, list[str]]:
        """:func:`_order`, with the text of each condition and the key of each alternative made once."""
        key = self._keys.get(conj)
        if key is None:
            reprs = self._reprs
            texts = []
            for c in conj:
                text = reprs.get(c)
                if text is None:
                    text = reprs[c] = repr(c)
                texts.append(text)
            key = self._keys[conj] = (len(conj), sorted(texts))
        return key

    def minimal(self, alternatives: list[Conj]) -> list[Conj]:
        """The minimal alternatives, or more than :attr:`limit` of them when there are too many."""
        return _minimal(alternatives, self.order, self.limit)

    def subjects(self, conj: Conj) -> frozenset[str]:
        found = self._subjects.get(conj)
        if found is None:
            found = self._subjects[conj] = frozenset(c.subject for c in conj)
        return found

    def joins(self, a: Conj, b: Conj) -> bool:
        """Whether the union of two consistent alternatives is consistent."""
        shared = self.subjects(a) & self.subjects(b)
        if not shared:
            return True
        fields = self.vocabulary.fields
        for subject in shared:
            on = frozenset(c for c in a | b if c.subject == subject)
            known = self._satisfiable.get(on)
            if known is None:
                spec = fields.get(subject)
                known = self._satisfiable[on] = spec is None or satisfiable_on(spec, list(on))
            if not known:
                return False
        return True

    def product(self, left: list[Conj] | None, right: list[Conj] | None) -> list[Conj] | None:
        """Both hold: every consistent union of one alternative of each (None: too many)."""
        if left is None or right is None:
            return None
        limit = self.limit
        out = []
        for a in left:
            for b in right:
                if self.joins(a, b):
                    out.append(a | b)
                    if len(out) > limit * 4:
                        return None
        out = self.minimal(out)
        return None if len(out) > limit else out


def product(left: list[Conj] | None, right: list[Conj] | None, vocabulary: Vocabulary,
            limit: int = MAX_ALTERNATIVES) -> list[Conj] | None:
    """Both hold: every consistent union of one alternative of each (None: too many).

    Each alternative of *left* and of *right* must be consistent on its own,
    as every expansion's alternatives are.
    """
    return Joiner(vocabulary, limit).product(left, right)


# --------------------------------------------------------------------------
# expansions through the derivation chain

#: A node of the derivation graph: ("rule", rule id), or ("fact", the ids of
#: the rules that can make a condition hold), so that every condition met by
#: the same rules shares one expansion, computed once.
Node = tuple[str, Any]

#: A cycle of derived facts is solved by iteration from "nothing holds"; it
#: is given up on (its expansions unknown) after this many updates per member.
MAX_UPDATES_PER_NODE = 64


class Expander:
    """Expansions of the rules and conditions of one knowledge base, memoised per rule and per derived fact.

    Each rule and each distinct set of producing rules is expanded once, in
    dependency order (strongly connected components of the derivation graph,
    found by Tarjan's algorithm). A cycle of derived facts is expanded to its
    least fixed point: what its rules can conclude from findings alone,
    without assuming what they conclude. An expansion past *limit*
    alternatives is unknown (None); :attr:`gave_up` says where each unknown
    started, so a check that relies on one can say so.
    """

    def __init__(self, kb: KnowledgeBase, limit: int = MAX_ALTERNATIVES) -> None:
        self.kb = kb
        self.limit = limit
        self.joiner = Joiner(kb.vocabulary, limit)
        self._index = index(kb)
        self._rule_of = {rule.id: rule for rule in kb.rules}
        self._values: dict[Node, list[Conj] | None] = {}
        self._keys: dict[Condition, tuple[str, ...]] = {}
        self._producers: dict[tuple[str, ...], tuple[RuleDef, ...]] = {}
        self._ordered: dict[str, tuple[Condition, ...]] = {}
        #: Where an unknown expansion started: node -> (a condition it stands for, or None; why).
        self.gave_up: dict[Node, tuple[Condition | None, str]] = {}
        self._named: dict[tuple[str, ...], Condition] = {}

    # -- the graph -------------------------------------------------------
    def producers(self, c: Condition) -> tuple[RuleDef, ...]:
        """The rules whose conclusion can make *c* hold (necessary ones for hypotheses)."""
        return self._producers[self._fact(c)]

    def _fact(self, c: Condition) -> tuple[str, ...]:
        key = self._keys.get(c)
        if key is None:
            producers = self._index.producers(c, necessary=True)
            key = self._keys[c] = tuple(r.id for r in producers)
            self._producers.setdefault(key, producers)
            self._named.setdefault(key, c)
        return key

    def _conditions_of(self, rule: RuleDef) -> tuple[Condition, ...]:
        found = self._ordered.get(rule.id)
        if found is None:
            # Case conditions first: they prune the product before it grows.
            found = self._ordered[rule.id] = tuple(sorted(rule.conditions, key=lambda c: c.kind != cond.CASE))
        return found

    def _successors(self, node: Node) -> list[Node]:
        kind, key = node
        if kind == "rule":
            return [("fact", self._fact(c)) for c in self._conditions_of(self._rule_of[key]) if c.kind != cond.CASE]
        return [("rule", r.id) for r in self._producers[key]]

    # -- one node, from its successors' expansions -----------------------
    def _case(self, c: Condition) -> list[Conj]:
        spec = self.kb.vocabulary.fields[c.subject]
        return [frozenset({c})] if satisfiable_on(spec, [c]) else []

    def _compute(self, node: Node) -> list[Conj] | None:
        kind, key = node
        values = self._values
        if kind == "rule":
            result: list[Conj] | None = [frozenset()]
            for c in self._conditions_of(self._rule_of[key]):
                part = self._case(c) if c.kind == cond.CASE else values.get(("fact", self._fact(c)), [])
                if part is None:
                    return None
                result = self.joiner.product(result, part)
                if result is None:
                    self.gave_up.setdefault(node, (None, f"its conditions hold together in more than {self.limit} "
                                                         "ways"))
                if not result:
                    return result
            return result
        out: list[Conj] = []
        for producer in self._producers[key]:
            alternatives = values.get(("rule", producer.id), [])
            if alternatives is None:
                return None
            out.extend(alternatives)
        out = self.joiner.minimal(out)
        if len(out) > self.limit:
            self.gave_up.setdefault(node, (self._named.get(key), f"it holds in more than {self.limit} ways"))
            return None
        return out

    # -- solving, in dependency order ------------------------------------
    def _solve(self, root: Node) -> list[Conj] | None:
        """The expansion of *root*, settling first every component of the graph it depends on."""
        values = self._values
        if root not in values:
            for component in components([root], self._successors, values.__contains__):
                self._settle(component)
        return values[root]

    def _settle(self, component: list[Node]) -> None:
        """Expand one strongly connected component whose successors outside it are all expanded."""
        values = self._values
        if len(component) == 1 and component[0] not in self._successors(component[0]):
            values[component[0]] = self._compute(component[0])
            return
        # A cycle: start from "nothing holds" and update until nothing changes
        # (support through the cycle itself grounds nothing: least fixed point).
        members = set(component)
        dependents: dict[Node, list[Node]] = {node: [] for node in component}
        for node in component:
            for child in self._successors(node):
                if child in members:
                    dependents[child].append(node)
        for node in component:
            values[node] = []
        queue = deque(component)
        queued = set(component)
        budget = MAX_UPDATES_PER_NODE * len(component)
        while queue:
            budget -= 1
            if budget < 0:
                for node in component:
                    values[node] = None
                self.gave_up.setdefault(component[0], (None, f"a cycle of {len(component)} rules and facts did not "
                                                             "settle"))
                return
            node = queue.popleft()
            queued.discard(node)
            new = self._compute(node)
            if new != values[node]:
                values[node] = new
                for dependent in dependents[node]:
                    if dependent not in queued:
                        queue.append(dependent)
                        queued.add(dependent)

    # -- the questions the checks ask ------------------------------------
    def rule_by_id(self, rule_id: str) -> RuleDef:
        return self._rule_of[rule_id]

    def condition(self, c: Condition) -> list[Conj] | None:
        """Alternatives under which *c* can hold."""
        if c.kind == cond.CASE:
            return self._case(c)
        return self._solve(("fact", self._fact(c)))

    def conditions(self, conditions: Iterable[Condition]) -> list[Conj] | None:
        """Alternatives under which every one of *conditions* can hold together."""
        result: list[Conj] | None = [frozenset()]
        for c in sorted(conditions, key=lambda c: c.kind != cond.CASE):
            result = self.joiner.product(result, self.condition(c))
            if not result:
                return result
        return result

    def rule(self, rule: RuleDef) -> list[Conj] | None:
        """The alternatives of case findings under which *rule* can fire."""
        return self._solve(("rule", rule.id))

    def can_fire(self, rule: RuleDef) -> bool:
        """False only when *rule* certainly never fires (unknown counts as may fire)."""
        alternatives = self.rule(rule)
        return alternatives is None or bool(alternatives)

    def together(self, *rules: RuleDef) -> list[Conj] | None:
        """Alternatives under which all of *rules* can fire for one case."""
        result: list[Conj] | None = [frozenset()]
        for rule in rules:
            result = self.joiner.product(result, self.rule(rule))
            if not result:
                return result
        return result
