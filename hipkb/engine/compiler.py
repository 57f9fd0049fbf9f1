"""Compile a knowledge base into an experta ``KnowledgeEngine`` class.

Each :class:`~hipkb.knowledge.rules.RuleDef` becomes one experta ``Rule`` (a CLIPS
``defrule``): its conditions become patterns over the fact templates of
:mod:`hipkb.engine.templates`, its conclusion becomes a right-hand side that declares one
fact and records why. Layers are kept apart by salience, so every rule of a
layer has fired before the next layer's rules run:

====================  ========  ==========================================
layer                 salience  concludes
====================  ========  ==========================================
1 patterns            70000+    derived facts (``load_response=bone``), points
  score (shell)       65000     each risk score's total and band (``triad_risk=moderate``)
2 screens             60000+    red flags
3 evidence            50000+    weights for and against hypotheses
  combine (shell)     45000     one certainty and band per hypothesis
4 status              40000+    exclusion status votes of the alarm hypotheses
  resolve (shell)     35000     one status per alarm hypothesis
5 decisions           30000+    triage, running advice, questions to avoid
  decide (shell)      100       the most urgent triage, most restrictive advice
====================  ========  ==========================================

Within a layer, rules are ordered by id through salience, which gives every
activation a distinct place on the agenda: the firing order, and so the trace,
is the same on every run whatever the hash seed. The figures above are for a
layer of up to 4,999 rules; a larger layer spreads every band out so that
the layers still never overlap (:func:`salience_bands`).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import update_wrapper
from typing import Any

from hipkb.engine.matcher import Pattern, PlanMatcher
from hipkb.engine.templates import Derived, HypothesisFact, RedFlagFact, StatusFact, experta, group_class
from hipkb.knowledge import conditions as cond
from hipkb.knowledge.conditions import Condition, predicate
from hipkb.knowledge.kinds import Target
from hipkb.knowledge.rules import KnowledgeBase, RuleDef

# Each band is a multiple of the span, the room a layer has for its rules:
# the layers and the shell's steps between them from the top, decide below them all.
LAYER_BANDS = {1: 14, 2: 12, 3: 10, 4: 8, 5: 6}
SHELL_BANDS = {"score": 13, "combine": 9, "resolve": 7}
COMBINE_BAND = SHELL_BANDS["combine"]
SPAN = 5000
DECIDE_SALIENCE = 100


@dataclass(frozen=True)
class SalienceBands:
    """Where each layer's rules sit on the agenda: ``base[layer]``, ``span`` apart, and the shell's combine step."""

    base: dict[int, int]
    span: int
    combine: int
    #: The salience of each of the shell's steps between layers (``combine`` among them).
    shell: dict[str, int]

    def of(self, layer: int, position: int) -> int:
        """The salience of the rule at 1-based *position* (by id) in *layer*: earlier ids higher."""
        return self.base[layer] + self.span - 1 - position


def salience_bands(layer_sizes: dict[int, int]) -> SalienceBands:
    """Saliences for layers of these sizes; 50000+, 40000+, ... as in the table while every layer fits in 4,999."""
    span = max(SPAN, max(layer_sizes.values(), default=0) + 1)
    return SalienceBands({layer: band * span for layer, band in LAYER_BANDS.items()}, span, COMBINE_BAND * span,
                        {step: band * span for step, band in SHELL_BANDS.items()})

# A binding of one pattern: the name experta gives the matched fact, and for
# each condition on it, the slot to read for the explanation.
Binding = tuple[str, tuple[tuple[Condition, str], ...]]


def group_classes(kb: KnowledgeBase) -> dict[str, type]:
    return {name: group_class(name) for name in kb.vocabulary.groups}


def _constraint(c: Condition) -> Any:
    if c.op == "in" and len(c.values) == 1:
        return c.values[0]
    return experta.P(predicate(c))


# A compiled right-hand side: called with the engine and the matched facts by bind name.
RightHandSide = Callable[[Any, dict[str, Any]], None]

# One pattern of a rule: its bind name, the group of case findings it reads
# (None for a conclusion), its conditions.
Part = tuple[str, str | None, tuple[Condition, ...]]


def _parts(rule: RuleDef) -> Iterator[Part]:
    """The patterns of *rule*: a bind name, the group of case findings (None for a conclusion), the conditions.

    Conditions on one group of findings make one pattern on that group's
    fact; each condition on a conclusion makes a pattern of its own.
    """
    by_group: dict[str, list[Condition]] = defaultdict(list)
    for c in rule.conditions:
        if c.kind == cond.CASE:
            by_group[c.subject.split(".", 1)[0]].append(c)
    for index, (group, conds) in enumerate(sorted(by_group.items())):
        yield f"g{index}", group, tuple(conds)
    for index, c in enumerate(c for c in rule.conditions if c.kind != cond.CASE):
        yield f"d{index}", None, (c,)


def _slot(c: Condition) -> str:
    """The slot of its fact that condition *c* tests."""
    if c.kind == cond.CASE:
        return c.subject.split(".", 1)[1]
    return {cond.DERIVED: "value", cond.HYPOTHESIS: "band", cond.RED_FLAG: "id", cond.STATUS: "status"}[c.kind]


# The fact a condition on a conclusion reads, and the slot that names its subject.
_CONCLUSION_FACTS = {cond.DERIVED: (Derived, "name"), cond.HYPOTHESIS: (HypothesisFact, "id"),
                     cond.STATUS: (StatusFact, "id")}


def _bindings(parts: tuple[Part, ...]) -> list[Binding]:
    return [(bind, tuple((c, _slot(c)) for c in conds)) for bind, _, conds in parts
            if conds[0].kind != cond.RED_FLAG]


def _patterns(parts: tuple[Part, ...], classes: dict[str, type]) -> list[Any]:
    patterns: list[Any] = []
    for bind, group, conds in parts:
        c = conds[0]
        if group is not None:
            patterns.append(bind << classes[group](**{_slot(c): _constraint(c) for c in conds}))
        elif c.kind == cond.DERIVED:
            patterns.append(bind << Derived(name=c.subject, value=_constraint(c)))
        elif c.kind == cond.HYPOTHESIS:
            patterns.append(bind << HypothesisFact(id=c.subject, band=experta.P(predicate(c))))
        elif c.kind == cond.STATUS:
            patterns.append(bind << StatusFact(id=c.subject, status=_constraint(c)))
        elif c.kind == cond.RED_FLAG:
            # EXISTS: a rule that needs "a red flag" fires once, however many.
            flag = RedFlagFact(id=experta.P(predicate(c))) if c.values else RedFlagFact()
            patterns.append(experta.EXISTS(flag))
    return patterns


def _plan(parts: tuple[Part, ...], classes: dict[str, type], sets: frozenset[str]) -> tuple[Pattern, ...]:
    plan: list[Pattern] = []
    for bind, group, conds in parts:
        c = conds[0]
        if group is not None:
            plan.append(Pattern(classes[group], tests=tuple((_slot(c), predicate(c)) for c in conds), bind=bind,
                                index=_index(conds, sets)))
        elif c.kind == cond.RED_FLAG:
            tests = (("id", predicate(c)),) if c.values else ()
            plan.append(Pattern(RedFlagFact, tests=tests, exists=True))
        else:
            fact_type, key = _CONCLUSION_FACTS[c.kind]
            plan.append(Pattern(fact_type, (key, c.subject), ((_slot(c), predicate(c)),), bind))
    return tuple(plan)


def _index(conds: tuple[Condition, ...], sets: frozenset[str]) -> tuple[str, tuple[Any, ...]] | None:
    """A slot and the values one of which a fact must hold there (or include) to pass *conds*.

    From the first condition that names its values: ``in`` on a single
    value, ``any`` on a set of values. None when no condition does.
    """
    for c in conds:
        single = c.subject not in sets
        if (c.op == "in" and single) or (c.op == "any" and not single):
            return _slot(c), c.values
    return None


def _rhs(rule: RuleDef, bindings: list[Binding], has_flags: bool) -> RightHandSide:
    # What Condition.matched_items picks out of each value read, decided once:
    # from a set of findings, the items an any/all condition named; else all.
    reads = tuple((bind, slot, f"{c.key}=", c.values if c.op in ("any", "all") else None)
                  for bind, conditions in bindings for c, slot in conditions)

    def fire_with(engine: Any, context: dict[str, Any]) -> None:
        matched: list[str] = []
        for bind, slot, prefix, picked in reads:
            value = context[bind][slot]
            if value is None:  # unknown, read by an unless: nothing was found to report
                continue
            if not isinstance(value, tuple):
                matched.append(f"{prefix}{value}")
            elif picked is None:
                matched.extend(f"{prefix}{item}" for item in value)
            else:
                matched.extend(f"{prefix}{item}" for item in value if item in picked)
        if has_flags:
            matched.extend(f"red_flag={flag}" for flag in engine.raised_flags())
        engine.conclude(rule, tuple(matched))

    return fire_with


@dataclass(frozen=True)
class CompiledRule:
    """One rule's left-hand side, read three ways (a CLIPS ``defrule``'s patterns)."""

    #: How to read back what it matched: each bound pattern, and the slot of each of its conditions.
    bindings: list[Binding]
    #: Its patterns for hipkb's matcher (:mod:`hipkb.engine.matcher`).
    plan: tuple[Pattern, ...]
    #: The same patterns for experta's Rete matcher (empty unless asked for).
    patterns: list[Any]


def compile_rule(rule: RuleDef, classes: dict[str, type], sets: frozenset[str] = frozenset(),
                 rete: bool = True) -> CompiledRule:
    """*rule* compiled against the group fact classes *classes*; *sets*: the case fields holding a set of values.

    ``rete``: also build experta's own patterns, which only its Rete matcher reads.
    """
    parts = tuple(_parts(rule))  # once per rule, for all three readings
    return CompiledRule(_bindings(parts), _plan(parts, classes, sets), _patterns(parts, classes) if rete else [])


def build_engine_class(kb: KnowledgeBase, base: type) -> type[Any]:
    """A KnowledgeEngine subclass holding every rule of *kb*, built once.

    Each rule carries its ``plan`` for hipkb's matcher; experta's own
    patterns, which only experta's Rete matcher reads, are built only for an
    engine that uses it (:class:`~hipkb.engine.reasoner.ExpertaReteEngine`).
    """
    classes = group_classes(kb)
    sets = frozenset(path for path, f in kb.vocabulary.fields.items() if f.type == "set")
    rete = not issubclass(getattr(base, "__matcher__", object), PlanMatcher)
    attrs: dict[str, Any] = {"group_classes": classes, "kb": kb}
    ordered = sorted(kb.rules, key=lambda r: (r.layer, r.id))
    bands = salience_bands(Counter(rule.layer for rule in ordered))
    position: dict[int, int] = defaultdict(int)
    for rule in ordered:
        position[rule.layer] += 1
        salience = bands.of(rule.layer, position[rule.layer])
        has_flags = any(c.kind == cond.RED_FLAG for c in rule.conditions)
        compiled = compile_rule(rule, classes, sets, rete)
        attrs[f"rule_{len(attrs)}"] = _rule(salience, rule.id, _rhs(rule, compiled.bindings, has_flags),
                                            compiled.plan, compiled.patterns)
    # The score and resolve steps only where the knowledge base has something for them to do.
    needed = {"score": bool(kb.scores), "combine": True,
              "resolve": any(r.conclusion.spec.target is Target.STATUS for r in kb.rules)}
    for step, salience in bands.shell.items():
        if needed[step]:
            attrs[f"shell_{step}"] = _rule(salience, f"SHELL-{step.upper()}", _shell(step), ())
    attrs["shell_decide"] = _rule(DECIDE_SALIENCE, "SHELL-DECIDE", _shell("decide"), ())
    return type("HipkbEngine", (base,), attrs)


def _rule(salience: int, name: str, fire_with: RightHandSide, plan: tuple[Pattern, ...],
          patterns: Any = ()) -> Any:
    """An experta ``Rule`` (a CLIPS ``defrule``) named *name*, with its plan for hipkb's matcher.

    hipkb's run loop calls ``fire_with`` with the context the matcher made,
    as one dict; experta's calls the rule's function with it as keywords.
    ``Rule(...)(function)`` would read the function's signature to pass it
    only the names it takes; this one takes ``**context``, which experta
    passes on whole, so the rule is made as experta would make it without
    reading a signature per rule at start-up.
    """
    def fire(engine: Any, **context: Any) -> None:
        fire_with(engine, context)

    fire.__name__ = name
    rule = experta.Rule(*patterns, salience=salience)
    rule._wrapped = fire
    update_wrapper(rule, fire)
    rule.plan = plan
    rule.fire_with = fire_with
    return rule


def _shell(step: str) -> RightHandSide:
    def fire_with(engine: Any, context: dict[str, Any]) -> None:
        getattr(engine, step)()

    return fire_with


__all__ = ["CompiledRule", "build_engine_class", "compile_rule", "group_classes"]
