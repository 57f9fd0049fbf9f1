"""The inference engine: one experta ``KnowledgeEngine`` per knowledge base.

:class:`Reasoner` compiles a knowledge base once (rules, their match plans
and the matcher's indexes) and then, for each case, resets the engine, declares the
case's facts and runs to quiescence, in the manner of CLIPS
``(reset) (assert ...) (run)``. The result is an :class:`~hipkb.engine.record.Inference`.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from hipkb.engine import certainty as cf
from hipkb.engine.compiler import build_engine_class
from hipkb.engine.factlist import FactList
from hipkb.engine.matcher import PlanMatcher
from hipkb.engine.record import Choice, EvidenceItem, Firing, Inference, Justification, PointsItem, RiskScore, Score
from hipkb.engine.strategy import DepthStrategy
from hipkb.engine.templates import (
    AvoidFact,
    Decision,
    Derived,
    Evidence,
    HypothesisFact,
    RedFlagFact,
    RunningFact,
    StatusFact,
    TriageFact,
    experta,
    is_plain,
)
from hipkb.errors import InferenceError
from hipkb.knowledge.case import Case
from hipkb.knowledge.kinds import Kind, Subject, Target
from hipkb.knowledge.memo import per_knowledge_base
from hipkb.knowledge.rules import Conclusion, KnowledgeBase, RuleDef
from hipkb.knowledge.scales import RUNNING_ADVICE, STATUSES, TRIAGE_LEVELS

watchers = experta.watchers

MAX_FIRINGS = 5000
# A rule base that settles fires each rule a few times at most (once per
# matching combination of facts); the bound grows with the rule base, so a
# large one with no cycle is never mistaken for a runaway.
FIRINGS_PER_RULE = 8
FALLBACK_TRIAGE = "routine"
FALLBACK_RUNNING = "reduce"


class ExpertaReteEngine(experta.KnowledgeEngine):
    """experta's own engine (its matcher, strategy and run loop) with hipkb's bookkeeping.

    The right-hand sides of compiled rules call :meth:`conclude`; the shell's
    COMBINE and DECIDE rules call :meth:`combine` and :meth:`decide`. The
    differential test runs the knowledge base through this engine and through
    :class:`Engine` and requires the same results.
    """

    kb: KnowledgeBase
    group_classes: dict[str, type]
    #: The band thresholds (likely, possible); a :class:`Reasoner` may be given others.
    bands: tuple[float, float] = (cf.LIKELY, cf.POSSIBLE)

    def __init__(self) -> None:
        super().__init__()
        self.record: Inference | None = None

    def assert_fact(self, fact: Any) -> Any:
        """Declare one fact from a right-hand side (CLIPS ``assert`` in an RHS); None when it was there already."""
        return self.declare(fact)

    # -- called from compiled rules ------------------------------------
    def conclude(self, rule: RuleDef, matched: tuple[str, ...]) -> None:
        """Record what *rule* concluded, and declare what later rules read (the RHS of every rule)."""
        record = self.record
        assert record is not None
        c = rule.conclusion
        spec = c.spec
        if spec.record is None:
            # Evidence: one fact per rule, pooled by the shell's COMBINE step.
            new = self.assert_fact(Evidence.of(hypothesis=c.target, rule=rule.id, cf=c.cf, facts=matched)) is not None
        elif c.kind is Kind.POINTS:
            # Points: kept per score, added up by the shell's SCORE step.
            record.points.setdefault(c.target, []).append(PointsItem.of(rule.id, c.value, int(c.weight), matched))
            new = True
        else:
            why = Justification.of(rule.id, matched)
            table = getattr(record, spec.record)
            keys = c.facts if spec.target is Target.FIELDS else (c.key,)
            new = spec.target is Target.FIELDS or c.key not in table
            for key in keys:
                table.setdefault(key, []).append(why)
            for fact in _facts_of(c, rule.id, new):
                self.assert_fact(fact)
        record.firings.append(Firing.of(len(record.firings) + 1, rule.id, matched, c.asserted(), new))

    def raised_flags(self) -> list[str]:
        assert self.record is not None
        return sorted(self.record.red_flags)

    # -- the shell's own rules -------------------------------------------
    def combine(self) -> None:
        """Layer 4: pool each hypothesis's evidence into one certainty."""
        record = self.record
        assert record is not None
        pooled: dict[str, list[EvidenceItem]] = {}
        for fact in self.facts.values():
            if isinstance(fact, Evidence):
                pooled.setdefault(fact["hypothesis"], []).append(
                    EvidenceItem.of(fact["rule"], fact["cf"], tuple(fact["facts"]))
                )
        for hypothesis in sorted(pooled):
            items = tuple(sorted(pooled[hypothesis], key=lambda e: (-e.cf, e.rule)))
            certainty = round(cf.combine(e.cf for e in items), 3)
            band = cf.band(certainty, *self.bands)
            record.scores[hypothesis] = Score(hypothesis, certainty, band, items)
            self.assert_fact(HypothesisFact.of(id=hypothesis, certainty=certainty, band=band))
        summary = ", ".join(f"{s.hypothesis}={s.certainty:g}" for s in record.ranked()) or "no hypothesis"
        record.firings.append(Firing(len(record.firings) + 1, "SHELL-COMBINE", (), summary))

    def score(self) -> None:
        """After layer 1: add up each risk score, a component counting once at its most points.

        The band is published as the derived fact ``<score>=<band>``, justified
        by the points that counted; a score none of whose rules fired says nothing
        (unknown is not low).
        """
        record = self.record
        assert record is not None
        summary = []
        for sid, spec in sorted(self.kb.scores.items()):
            items = record.points.get(sid)
            if not items:
                continue
            counted: dict[str, PointsItem] = {}
            for item in sorted(items, key=lambda i: (-i.points, i.rule)):
                counted.setdefault(item.component, item)
            order = list(spec.components)
            kept = tuple(sorted(counted.values(), key=lambda i: order.index(i.component)))
            total = sum(i.points for i in kept)
            band = spec.band(total)
            record.risk[sid] = RiskScore(sid, total, band, kept)
            record.derived[f"{sid}={band}"] = [Justification.of(i.rule, i.facts) for i in kept]
            self.assert_fact(Derived.of(name=sid, value=band))
            summary.append(f"{sid}={band} ({total} points)")
        record.firings.append(Firing(len(record.firings) + 1, "SHELL-SCORE", (), ", ".join(summary) or "no score"))

    def resolve(self) -> None:
        """After layer 4: each alarm hypothesis's status, suspected before excluded before not excluded."""
        record = self.record
        assert record is not None
        votes: dict[str, dict[str, list[Justification]]] = {}
        for key, justs in record.status_votes.items():
            hypothesis, _, status = key.partition("=")
            votes.setdefault(hypothesis, {})[status] = justs
        for hypothesis in sorted(votes):
            status = next(s for s in STATUSES if s in votes[hypothesis])
            rules = tuple(sorted({j.rule for j in votes[hypothesis][status]}))
            record.exclusions[hypothesis] = Choice(status, rules)
            self.assert_fact(StatusFact.of(id=hypothesis, status=status))
        summary = ", ".join(f"{h}={c.value}" for h, c in record.exclusions.items()) or "no alarm hypothesis in view"
        record.firings.append(Firing(len(record.firings) + 1, "SHELL-RESOLVE", (), summary))

    def decide(self) -> None:
        """Layer 6: safety first; the most urgent triage, the most restrictive advice."""
        record = self.record
        assert record is not None
        record.triage = _winner(record.triage_votes, TRIAGE_LEVELS, FALLBACK_TRIAGE, self.kb)
        record.running = _winner(record.running_votes, RUNNING_ADVICE, FALLBACK_RUNNING, self.kb)
        self.assert_fact(Decision.of(triage=record.triage.value, running=record.running.value))
        record.firings.append(
            Firing(len(record.firings) + 1, "SHELL-DECIDE", (),
                   f"triage={record.triage.value}, running={record.running.value}")
        )


class Engine(ExpertaReteEngine):
    """hipkb's engine: experta's, with the per-case overheads taken out; subclassed per knowledge base.

    - a conflict resolution strategy without experta's cache (:mod:`hipkb.engine.strategy`),
      so a case never gets the agenda order of an earlier, equal one;
    - a matcher for patterns that share no variables (:mod:`hipkb.engine.matcher`);
    - a fact list that declares hipkb's own plain facts without re-checking them (:mod:`hipkb.engine.factlist`);
    - deffacts taken once, not walked with inspect on every reset;
    - a run loop that formats its log line only when it is logged.
    """

    __strategy__ = DepthStrategy
    __matcher__ = PlanMatcher

    def __init__(self) -> None:
        super().__init__()
        # experta walks every attribute with inspect on each reset to find the
        # deffacts and what each takes; the answer never changes, so take it once.
        self._deffacts: list[tuple[Any, frozenset[str] | None]] = []
        for deffacts in super().get_deffacts():
            parameters = inspect.signature(deffacts).parameters.values()
            names = None if any(p.kind is p.VAR_KEYWORD for p in parameters) else \
                frozenset(p.name for p in parameters)
            self._deffacts.append((deffacts, names))

    def get_deffacts(self) -> list[Any]:
        return [deffacts for deffacts, _ in self._deffacts]

    def reset(self, **kwargs: Any) -> None:
        """experta's reset (CLIPS ``(reset)``) into hipkb's working memory (:mod:`hipkb.engine.factlist`).

        As experta: a new agenda and fact list, the matcher emptied, and the
        facts of every deffacts declared (each given the keyword arguments
        it names).
        """
        self.agenda = experta.agenda.Agenda()
        self.facts = FactList()
        self.matcher.reset()
        facts: list[Any] = []
        for deffacts, names in self._deffacts:
            given = kwargs if names is None else {k: v for k, v in kwargs.items() if k in names}
            facts.extend(deffacts(**given))
        self.declare(*facts)
        self.running = False

    def declare(self, *facts: Any) -> Any:
        """experta's declare (CLIPS ``assert``); hipkb's plain facts skip the checks they cannot fail."""
        if not all(is_plain(fact) for fact in facts):
            return super().declare(*facts)
        if not self.facts:
            watchers.ENGINE.warning("Declaring fact before reset()")
        last = None
        declare = self.facts.declare
        for fact in facts:
            last = declare(fact)
        if not self.running:
            added, removed = self.get_activations()
            self.strategy.update_agenda(self.agenda, added, removed)
        return last

    def assert_fact(self, fact: Any) -> Any:
        """Into working memory only: the run loop offers it to the matcher before the next firing.

        A right-hand side's facts are hipkb's plain facts, made for the call,
        and it runs inside :meth:`run`, which takes what was declared since
        the last step (experta's ``get_activations``) before choosing the
        next activation; so :meth:`declare`'s checks and its agenda update
        outside a run have nothing to do.
        """
        return self.facts.declare_plain(fact)

    def run(self, steps: float = float("inf")) -> None:
        """experta's run loop (CLIPS ``(run)``): the same steps, with its log lines only when watched.

        experta formats the FIRE line (every matched fact as text) on every
        firing, and asks its loggers three times per firing whether to log,
        watched or not; here the watchers are asked once per run (``-v``
        turns them on before a run, never during one). A compiled rule's
        right-hand side is called with the context the matcher made, as one
        dict (``fire_with``, see :mod:`hipkb.engine.compiler`), where
        ``Rule.__call__`` would unpack it into keywords (it holds the
        patterns' bindings only, never experta's ``__``-names). The facts
        declared since the last step go to the matcher as experta's
        ``get_activations`` would send them. The differential test
        (tests/engine/test_differential.py) holds the loop to experta's results.
        """
        rules_log = watchers.RULES if watchers.RULES.isEnabledFor(logging.INFO) else None
        show_agenda = watchers.worth("AGENDA", "DEBUG")
        if watchers.worth("ACTIVATIONS", "INFO"):
            update = self.strategy.update_agenda
        else:  # what update_agenda does when its watcher is off
            update = self.strategy._update_agenda
        facts, changes, agenda = self.facts, self.matcher.changes, self.agenda
        activations = agenda.activations
        self.running = True
        execution = 0
        while steps > 0 and self.running:
            if facts.added or facts.removed:  # experta's get_activations, when there is something to get
                added, removed = changes(*facts.changes)
                if added or removed:
                    update(agenda, added, removed)
            if show_agenda:  # pragma: no cover - -vv only
                for idx, act in enumerate(activations):
                    watchers.AGENDA.debug("%d: %r %r", idx, act.rule.__name__,
                                          ", ".join(str(f) for f in act.facts))
            if not activations:
                break
            activation = activations.pop()  # experta's Agenda.get_next
            steps -= 1
            execution += 1
            if rules_log is not None:
                rules_log.info("FIRE %s %s: %s", execution, activation.rule.__name__,
                               ", ".join(str(f) for f in activation.facts))
            activation.rule.fire_with(self, activation.context)
        self.running = False


def _facts_of(c: Conclusion, rule_id: str, new: bool) -> list[Any]:
    """The experta facts a conclusion declares: what later patterns read, and votes for the agenda's record."""
    declare = _DECLARES.get(c.kind)
    if declare is not None:
        return declare(c, rule_id, new)
    if c.spec.target is Target.FIELDS:
        return [AvoidFact.of(facts=c.facts, kind=_WORDS[c.kind], rule=rule_id)]
    return []


# The engine's table of recorders (kinds.py's KindSpec says where each kind is
# recorded; this says which fact it declares for later rules): a derived fact
# and a red flag once, a vote every time, for the shell to choose among.
_DECLARES: dict[Kind, Callable[[Conclusion, str, bool], list[Any]]] = {
    Kind.DERIVE: lambda c, rule_id, new: [Derived.of(name=c.target, value=c.value)] if new else [],
    Kind.RED_FLAG: lambda c, rule_id, new: [RedFlagFact.of(id=c.target)] if new else [],
    Kind.TRIAGE: lambda c, rule_id, new: [TriageFact.of(level=c.target, rule=rule_id)],
    Kind.RUNNING: lambda c, rule_id, new: [RunningFact.of(advice=c.target, rule=rule_id)],
}


# Each kind as the plain word it is written as (an enum's .value is a slow property).
_WORDS = {kind: kind.value for kind in Kind}


def _winner(votes: dict[str, list[Justification]], scale: tuple[str, ...], fallback: str,
            kb: KnowledgeBase) -> Choice:
    """The most urgent (or restrictive) value any rule voted for.

    Rules marked ``default`` vote only when no other rule has: a default
    "routine" must not outvote a rule's "self_care".
    """
    def is_default(j: Justification) -> bool:
        rule = kb.rule(j.rule)
        return rule is not None and rule.conclusion.default

    for defaults in (False, True):
        for level in scale:
            chosen = [j for j in votes.get(level, []) if is_default(j) == defaults]
            if chosen:
                rules = sorted({j.rule for j in chosen})
                first = kb.rule(chosen[0].rule)
                return Choice(level, tuple(rules), first.conclusion.text if first else "")
    return Choice(fallback, (), "")


class Reasoner:
    """Reasons about cases with one knowledge base; build once, run many."""

    def __init__(self, kb: KnowledgeBase, *, max_firings: int | None = None,
                 engine: type[ExpertaReteEngine] | None = None, bands: tuple[float, float] | None = None) -> None:
        self.kb = kb
        self.max_firings = max_firings or max(MAX_FIRINGS, FIRINGS_PER_RULE * len(kb.rules))
        self.engine_class = build_engine_class(kb, engine or Engine)
        self.engine = self.engine_class()
        if bands is not None:  # (likely, possible): thresholds other than the result format's, to test them
            self.engine.bands = bands
        self._groups = self.engine_class.group_classes
        self._unless = _read_unless(kb)

    def case_facts(self, case: Case) -> list[Any]:
        """The case as experta facts: one per group that says anything.

        A finding some rule reads with ``unless`` is in its group's fact even
        while unknown, as ``None``: the CLIPS way to test for the absence of a
        finding is a pattern that can see the slot. Every other test fails on
        ``None`` (unknown is not no), and nothing reports it as a finding.
        """
        facts = []
        unless = self._unless
        for group, known in case.findings.items():
            slots = unless.get(group)
            values: Mapping[str, Any] = {**slots, **known} if slots else known
            if values:
                facts.append(self._groups[group](**values))
        for group, slots in unless.items():
            if group not in case.findings:
                facts.append(self._groups[group](**slots))
        return facts

    def infer(self, case: Case, order: Iterable[int] | None = None) -> Inference:
        """Run one case to quiescence and return what was concluded.

        *order* (indexes into :meth:`case_facts`) declares the groups one by
        one in that order, so that a property check can show the order of
        assertion does not change the result.
        """
        engine = self.engine
        engine.reset()
        record = Inference(case)
        engine.record = record
        try:
            facts = self.case_facts(case)
            if order is not None:
                for index in order:
                    engine.declare(facts[index])
            elif facts:
                engine.declare(*facts)
            engine.run(self.max_firings)
            if len(record.firings) >= self.max_firings:
                raise InferenceError(
                    case.source or case.case_id, "",
                    f"the rules did not settle after {self.max_firings} firings "
                    f"(last: {record.firings[-1].rule}); a rule set that keeps concluding "
                    "new facts has a cycle",
                )
        finally:
            engine.record = None
        return record


def _read_unless(kb: KnowledgeBase) -> dict[str, dict[str, None]]:
    """The case findings some rule reads with ``unless``, by group, each unknown (``None``), in a fixed order."""
    found: dict[str, dict[str, None]] = {}
    for rule in kb.rules:
        for c in rule.conditions:
            if c.kind is Subject.CASE and c.op == "unless":
                group, _, name = c.subject.partition(".")
                found.setdefault(group, {})[name] = None
    return {group: dict(sorted(slots.items())) for group, slots in sorted(found.items())}


@per_knowledge_base
def reasoner_for(kb: KnowledgeBase) -> Reasoner:
    """One compiled engine per knowledge base, built on first use and kept while the knowledge base lives."""
    return Reasoner(kb)
