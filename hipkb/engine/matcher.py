"""A matcher for rules whose patterns share no variables (experta's ``__matcher__`` seam).

experta's matcher is a general Rete network: alpha nodes test one fact,
beta nodes join tokens on shared variables, and every node copies the token
it passes on. Rules compiled from a knowledge base never share a variable
between patterns: each pattern tests one fact with literals and predicates
(``History(onset='gradual')``, ``Derived(name='load_response', value=P(...))``)
and a rule holds for every combination of facts its patterns accept. So the
beta network here has no join tests at all, and a rule's activations are the
cartesian product of what each of its patterns has accepted so far:

- **alpha part**: a fact is offered only to the patterns on its type (and,
  for conclusions named by a slot such as ``Derived.name``, on that name);
  each pattern tests the fact's slots itself;
- **beta part**: a pattern that accepts a fact remembers it; once every
  pattern of the rule has accepted something, each new fact gives the
  activations that pair it with what the other patterns already hold;
- ``EXISTS`` (CLIPS ``exists``) is a pattern satisfied once, by its first
  fact, and contributes no fact to the activation; as in experta, a rule with
  an ``EXISTS`` pattern or no pattern at all matches the initial fact.

Facts are only ever added during a run (the knowledge base's rules never
retract), so activations are only ever added, and a reset clears the
memories a case filled. The activations (rule, facts, context) are those
experta's own Rete matcher gives; ``tests/engine/test_differential.py``
holds every result, trace included, to experta's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from itertools import product
from typing import Any

from hipkb.engine.templates import experta

_InitialFact = experta.fact.InitialFact
_Activation = experta.activation.Activation
_MISSING = object()
_NONE: list[Any] = []


@dataclass(frozen=True)
class Pattern:
    """One pattern of a compiled rule (a CLIPS pattern CE with literal and predicate constraints).

    *key* is a slot whose literal value the pattern requires (``name`` of a
    derived fact, ``id`` of a hypothesis): the matcher offers the pattern only
    facts with that value. *tests* are ``(slot, predicate)`` pairs; a fact
    without the slot does not match (unknown is not no). *bind* is the name
    the right-hand side receives the fact under; ``EXISTS`` patterns bind none.
    """

    fact_type: type
    key: tuple[str, Any] | None = None
    tests: tuple[tuple[str, Callable[[Any], bool]], ...] = ()
    bind: str | None = None
    exists: bool = False
    #: ``(slot, values)``: a fact the pattern accepts holds one of *values* in
    #: *slot*, or, where the slot holds a tuple, includes one. The matcher
    #: offers the pattern only such facts (CLIPS hashes its alpha network on
    #: such constants); the tests still decide.
    index: tuple[str, tuple[Any, ...]] | None = None


INITIAL = Pattern(_InitialFact)


def with_initial(patterns: Iterable[Pattern]) -> tuple[Pattern, ...]:
    """The patterns as experta matches them: an initial-fact pattern first when there is nothing else to start from.

    experta (as CLIPS) adds the initial fact to a rule with no patterns or
    with an ``EXISTS``, and that fact is then one of the activation's facts.
    """
    patterns = tuple(patterns)
    if not patterns or any(p.exists for p in patterns):
        return (INITIAL, *patterns)
    return patterns


def _rules_of(engine_class: type) -> list[Any]:
    """The engine's rules, each an unbound copy, as experta's Rete matcher holds them, each with its ``fire_with``.

    experta's ``get_rules`` reads the rules through the instance, and a
    ``Rule`` read that way binds itself to the instance (``Rule.__get__``),
    so calling it would pass the engine twice. experta's own matcher works on
    copies made while preparing the network; so does this one, read from the
    class without binding.
    """
    found: dict[str, Any] = {}
    for cls in reversed(engine_class.__mro__):
        for name, value in vars(cls).items():
            if isinstance(value, experta.Rule):
                found[name] = value
    rules = []
    for name in sorted(found):
        rule = found[name]
        own = type(rule).__new__(type(rule), *rule, salience=rule.salience)
        own.__dict__.update(rule.__dict__)
        own._wrapped_self = None
        rules.append(own)
    return rules


def _activation(rule: Any, facts: list[Any], context: dict[str, Any]) -> Any:
    """An experta ``Activation`` holding *facts* (distinct) as they are.

    experta's constructor copies the facts into a set, hashing each fact
    through ``Fact.__hash__`` (Python code, for every activation); nothing
    hipkb's agenda does with an activation needs a set.
    """
    activation = object.__new__(_Activation)
    activation.rule = rule
    activation.facts = facts
    activation.key = None
    activation.context = context
    return activation


class PlanMatcher(experta.abstract.Matcher):
    """Matches compiled rules (experta ``Rule`` objects carrying a ``plan`` of :class:`Pattern`)."""

    def __init__(self, engine: Any) -> None:
        super().__init__(engine)
        self._rules: list[tuple[Any, tuple[Pattern, ...]]] = []
        self._by_type: dict[type, list[tuple[int, int, Pattern]]] = {}
        self._by_key: dict[tuple[type, Any], list[tuple[int, int, Pattern]]] = {}
        self._key_slot: dict[type, str] = {}
        self._by_value: dict[tuple[type, str, Any], list[tuple[int, int, Pattern]]] = {}
        self._indexed_types: set[type] = set()
        for rule in _rules_of(type(engine)):
            plan = getattr(rule, "plan", None)
            if plan is None or not callable(getattr(rule, "fire_with", None)):
                # A compiled rule carries its patterns (plan) and the right-hand side the run loop calls (fire_with).
                raise TypeError(
                    f"rule {getattr(rule, '__name__', rule)!r} was not compiled from a knowledge base: "
                    "hipkb's Engine matches compiled rules only; run hand-written experta rules on ExpertaReteEngine"
                )
            self._add(rule, with_initial(plan))
        # Patterns on a type and key, with those on the type whatever the key.
        self._offers = {key: [*self._by_type.get(key[0], ()), *keyed] for key, keyed in self._by_key.items()}
        # Types some pattern reads; a fact of another type (evidence, votes) is offered to none.
        self._read = frozenset({*self._by_type, *self._key_slot, *self._indexed_types})
        # What the current case has matched: per rule, the facts each pattern accepted.
        self._memory: dict[int, list[list[Any] | None]] = {}

    def _add(self, rule: Any, patterns: tuple[Pattern, ...]) -> None:
        index = len(self._rules)
        self._rules.append((rule, patterns))
        for position, pattern in enumerate(patterns):
            entry = (index, position, pattern)
            if pattern.key is None:
                if pattern.index is None:
                    self._by_type.setdefault(pattern.fact_type, []).append(entry)
                else:
                    slot, values = pattern.index
                    self._indexed_types.add(pattern.fact_type)
                    for value in values:
                        self._by_value.setdefault((pattern.fact_type, slot, value), []).append(entry)
                continue
            slot, value = pattern.key
            known = self._key_slot.setdefault(pattern.fact_type, slot)
            if known != slot:
                raise TypeError(f"patterns on {pattern.fact_type.__name__} are keyed by {known!r} and {slot!r}")
            self._by_key.setdefault((pattern.fact_type, value), []).append(entry)

    def reset(self) -> None:
        self._memory.clear()

    def changes(self, adding: Any = None, deleting: Any = None) -> tuple[list[Any], list[Any]]:
        if deleting:
            # hipkb's rules never retract; only a reset empties working memory.
            raise NotImplementedError("hipkb's Engine does not retract facts during a run")
        added: list[Any] = []
        by_type, key_slot, rules, read, memories = self._by_type, self._key_slot, self._rules, self._read, self._memory
        for fact in adding or ():
            kind = type(fact)
            if kind not in read:
                continue
            slot = key_slot.get(kind)
            if slot is not None:
                entries = self._offered(kind, fact.get(slot, _MISSING))
            elif kind in self._indexed_types:
                entries = self._offered_by_value(kind, fact)
            else:
                entries = by_type.get(kind, _NONE)
            get = fact.get
            for index, position, pattern in entries:
                for slot, test in pattern.tests:  # does the fact pass every test of the pattern?
                    value = get(slot, _MISSING)
                    if value is _MISSING or not test(value):
                        break
                else:
                    rule, patterns = rules[index]
                    if len(patterns) == 1:  # most rules: the fact alone is the activation
                        added.append(_activation(rule, [fact], {} if pattern.bind is None else {pattern.bind: fact}))
                        continue
                    # The beta memory: what each pattern of the rule has accepted (None: nothing yet).
                    memory = memories.get(index)
                    if memory is None:
                        memory = memories[index] = [None] * len(patterns)
                    held = memory[position]
                    if held is None:
                        held = memory[position] = []
                    elif pattern.exists:
                        continue  # already satisfied: a second fact adds no activation
                    held.append(None if pattern.exists else fact)
                    if all(memory):  # every pattern holds something: the fact completes activations
                        self._join(rule, patterns, memory, position, added)
        return added, []

    def _offered(self, kind: type, key: Any) -> list[tuple[int, int, Pattern]]:
        """The patterns a fact of type *kind* whose key slot holds *key* is offered to."""
        found = self._offers.get((kind, key))
        return self._by_type.get(kind, []) if found is None else found

    def _offered_by_value(self, kind: type, fact: Any) -> list[tuple[int, int, Pattern]]:
        """The patterns a fact of type *kind* is offered to: those whose index its slots name, and the rest."""
        # Declared facts hold hashable values only (the fact list keys them by
        # their slots), so every value can be looked up.
        by_value = self._by_value
        found: dict[int, tuple[int, int, Pattern]] = {}
        for slot, value in fact.items():
            for item in value if type(value) is tuple else (value,):
                for entry in by_value.get((kind, slot, item), ()):
                    found[id(entry)] = entry  # a tuple may name one pattern twice
        return [*self._by_type.get(kind, ()), *found.values()]

    @staticmethod
    def _join(rule: Any, patterns: tuple[Pattern, ...], memory: list[Any], position: int,
              added: list[Any]) -> None:
        """Add the activations the newest fact at *position* completes: it, with every combination of the others."""
        others = [memory[position][-1:] if i == position else memory[i] for i in range(len(patterns))]
        for combination in product(*others):
            facts: list[Any] = []
            context = {}
            for p, matched in zip(patterns, combination, strict=True):
                if matched is None:
                    continue
                if not any(matched is f for f in facts):  # one fact may pass two patterns
                    facts.append(matched)
                if p.bind is not None:
                    context[p.bind] = matched
            added.append(_activation(rule, facts, context))


__all__ = ["INITIAL", "Pattern", "PlanMatcher", "with_initial"]
