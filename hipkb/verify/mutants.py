"""Knowledge mutants: small changes to a rule base, one at a time, and whether any check notices.

Mutation testing for a knowledge base. Each *mutant* is the rule base with
one small change (:data:`OPERATORS`):

- ``drop-condition``: a rule loses one of its conditions;
- ``drop-rule``: a rule is gone;
- ``flip-weight``: evidence for a hypothesis counts against it, or the reverse;
- ``lower-decision``: a triage rule concludes one level less urgent, a
  running rule one step less restrictive;
- ``swap-value``: a condition tests another value of its field (the next one
  of the vocabulary), another derived value, red flag, band or exclusion status.

Against each mutant run the checks the rule base has (:class:`Suite`): the
example cases and their ``expect`` blocks, the labelled cases of an
expectations file (:mod:`hipkb.verify.expectations`), and the property
checks of :mod:`hipkb.verify.invariants` without hypothesis: the safety,
advice and traceability invariants on every result, and on cases built from
the examples: adding a red-flag or bone finding never lowers triage, adding
a strong bone sign never lowers the alarm, a suspected bone stress injury
survives another recording of the onset, and the benign presentations stay
below their triage ceiling. A mutant is *killed* when some check fails that
passes on the rule base itself; else it *survives*: nothing would notice
losing that piece of knowledge. The *mutation score* is the share killed.

A mutant changes only the cases in which its rule fires (or, with a condition
dropped or a value swapped, could now fire: every condition holds at the end
of the case's run under the rule base itself; facts only accumulate, so a
condition that does not hold then never held); only those are run again.
:func:`run` works here, or on worker processes or a Dask cluster through
:mod:`hipkb.batch.jobs`, within a budget of mutants or seconds.
"""

from __future__ import annotations

import dataclasses
import json
import random
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from hipkb.engine.reasoner import Reasoner
from hipkb.engine.record import Inference
from hipkb.errors import HipkbError
from hipkb.knowledge import conditions as cond
from hipkb.knowledge.case import Case
from hipkb.knowledge.conditions import Condition
from hipkb.knowledge.kinds import Kind
from hipkb.knowledge.rules import KnowledgeBase, RuleDef
from hipkb.knowledge.scales import RED_FLAGS, RUNNING_ADVICE, STATUSES, TRIAGE_LEVELS, running_rank, triage_rank
from hipkb.load.case import validate
from hipkb.load.inputs import CaseSource
from hipkb.results.questions import next_questions
from hipkb.results.result import build_result
from hipkb.verify import invariants as inv
from hipkb.verify.expectations import BONE_STRESS, BONE_STRESS_STOP_AT, score
from hipkb.verify.regression import expect_failures

OPERATORS = ("drop-condition", "drop-rule", "flip-weight", "lower-decision", "swap-value")
#: At most this many cases built from the examples for the property checks (a seeded sample beyond it).
DEFAULT_PROPERTY_CASES = 300
#: Conclusions that only shape the next questions or the referrals: what the property checks read
#: (triage, running advice, certainties, red flags) cannot change, so only the cases checked in full are rerun.
_ANSWERS_ONLY = (Kind.ASK, Kind.AVOID_ASKING, Kind.REFER)
CHUNKSIZE = 8
_SWAP_BAND = {"likely": "possible", "possible": "likely", "unlikely": "possible"}


# -- the mutations ---------------------------------------------------------------------

@dataclass(frozen=True)
class Mutation:
    """One small change to one rule; ``index`` is the condition's, ``old``/``new`` the values swapped."""

    operator: str
    rule: str
    index: int = -1
    old: str = ""
    new: str = ""

    @property
    def key(self) -> str:
        """A stable name: ``swap-value:FNBSI-HOP:1:hop->walking``."""
        parts = [self.operator, self.rule]
        if self.index >= 0:
            parts.append(str(self.index))
        if self.old or self.new:
            parts.append(f"{self.old}->{self.new}")
        return ":".join(parts)

    def describe(self, kb: KnowledgeBase) -> str:
        rule = kb.by_id[self.rule]
        if self.operator == "drop-condition":
            return f"{self.rule} without '{rule.conditions[self.index].describe()}'"
        if self.operator == "drop-rule":
            return f"{self.rule} gone ({rule.title})"
        if self.operator == "flip-weight":
            conclusion = rule.conclusion
            now, was = ("against", "for") if conclusion.kind is Kind.SUPPORTS else ("for", "against")
            return f"{self.rule} counts {conclusion.weight:g} {now} {conclusion.target}, not {was}"
        if self.operator == "lower-decision":
            return f"{self.rule} concludes {self.new}, not {self.old}"
        return f"{self.rule} tests {rule.conditions[self.index].key} {self.new}, not {self.old}"


def _swaps(kb: KnowledgeBase, c: Condition) -> list[tuple[str, str]]:
    """For each value a condition tests, the value that takes its place (the next one its subject allows)."""
    if c.kind is cond.HYPOTHESIS:
        return [(v, _SWAP_BAND[v]) for v in c.values if _SWAP_BAND[v] not in c.values]
    if c.kind is cond.CASE:
        spec = kb.vocabulary.fields[c.subject]
        if spec.type not in ("choice", "set") or c.op == "range":
            return []
        allowed = list(spec.values)
    elif c.kind is cond.DERIVED:
        allowed = list(kb.derived[c.subject].values)
    elif c.kind is cond.STATUS:
        allowed = list(STATUSES)
    else:  # a red flag condition; "any red flag" has no value to swap
        allowed = list(kb.red_flags) or list(RED_FLAGS)
    out = []
    for value in c.values:
        at = allowed.index(value) if value in allowed else -1
        others = allowed[at + 1:] + allowed[:max(at, 0)]
        replacement = next((o for o in others if o not in c.values), None)
        if replacement is not None:
            out.append((str(value), replacement))
    return out


def mutations(kb: KnowledgeBase, operators: Iterable[str] = OPERATORS) -> list[Mutation]:
    """Every mutation of *kb* the *operators* make, rule by rule, in rule order."""
    wanted = set(operators)
    unknown = wanted - set(OPERATORS)
    if unknown:
        raise HipkbError("--operators", "", f"found {', '.join(sorted(unknown))}; allowed: {', '.join(OPERATORS)}")
    out: list[Mutation] = []
    for rule in kb.rules:
        c = rule.conclusion
        if "drop-condition" in wanted:
            out += [Mutation("drop-condition", rule.id, i) for i in range(len(rule.conditions))]
        if "drop-rule" in wanted:
            out.append(Mutation("drop-rule", rule.id))
        if "flip-weight" in wanted and c.kind in (Kind.SUPPORTS, Kind.AGAINST):
            out.append(Mutation("flip-weight", rule.id))
        if "lower-decision" in wanted and c.kind in (Kind.TRIAGE, Kind.RUNNING):
            scale = TRIAGE_LEVELS if c.kind is Kind.TRIAGE else RUNNING_ADVICE
            at = scale.index(c.target)
            if at + 1 < len(scale):
                out.append(Mutation("lower-decision", rule.id, old=c.target, new=scale[at + 1]))
        if "swap-value" in wanted:
            for i, condition in enumerate(rule.conditions):
                out += [Mutation("swap-value", rule.id, i, old, new) for old, new in _swaps(kb, condition)]
    return out


def mutated_rule(kb: KnowledgeBase, m: Mutation) -> RuleDef | None:
    """The rule as the mutant has it (None: dropped)."""
    rule = kb.by_id[m.rule]
    if m.operator == "drop-rule":
        return None
    if m.operator == "drop-condition":
        return dataclasses.replace(rule, conditions=rule.conditions[:m.index] + rule.conditions[m.index + 1:])
    if m.operator == "flip-weight":
        kind = Kind.AGAINST if rule.conclusion.kind is Kind.SUPPORTS else Kind.SUPPORTS
        return dataclasses.replace(rule, conclusion=dataclasses.replace(rule.conclusion, kind=kind))
    if m.operator == "lower-decision":
        return dataclasses.replace(rule, conclusion=dataclasses.replace(rule.conclusion, target=m.new))
    c = rule.conditions[m.index]
    values = tuple(sorted({*(v for v in c.values if str(v) != m.old), m.new}))
    swapped = Condition(c.kind, c.subject, c.op, values)
    return dataclasses.replace(rule, conditions=(*rule.conditions[:m.index], swapped, *rule.conditions[m.index + 1:]))


def mutate(kb: KnowledgeBase, m: Mutation) -> KnowledgeBase:
    """*kb* with mutation *m* (the knowledge base itself is left as it is)."""
    new = mutated_rule(kb, m)
    rules = tuple(r for r in (new if r.id == m.rule else r for r in kb.rules) if r is not None)
    return dataclasses.replace(kb, rules=rules)


# -- the checks ---------------------------------------------------------------------

@dataclass
class Run:
    """One case as the rule base itself answers it: what the checks and the choice of cases to rerun need."""

    name: str
    case: Case
    fired: frozenset[str]
    base: Inference
    #: For cases checked in full (examples, labelled cases): what the expectation is, the problems
    #: found on the rule base itself, and the answers (to tell whether a mutant changed them).
    expectation: tuple[str, dict[str, Any]] | None = None
    problems: frozenset[str] = frozenset()
    answers: str = ""
    #: For cases checked in full: the whole inference and result, and whether a change of the next
    #: questions alone could break a check (see :meth:`Suite._asks_matter`).
    full: Inference | None = None
    result: dict[str, Any] | None = None
    asks_matter: bool = False


@dataclass(frozen=True)
class Pair:
    """A property over two runs: *after* is *before* with findings added (or recoded)."""

    kind: str  # "monotone", "bone-sign", "recording"
    before: int
    after: int
    change: str


def _slim(inference: Inference) -> Inference:
    """What later checks read of a run (case, derived facts, red flags, scores, exclusion statuses, decisions).

    Without the trace, so that thousands of runs fit in memory.
    """
    return Inference(inference.case, derived={k: [] for k in inference.derived},
                     red_flags={k: [] for k in inference.red_flags}, scores=inference.scores,
                     exclusions=inference.exclusions, triage=inference.triage, running=inference.running)


def _answers(result: dict[str, Any]) -> str:
    """A result without its trace and its next questions: what a clinician reads of it (the questions apart)."""
    return json.dumps({k: result.get(k) for k in ("triage", "running", "red_flags", "referrals", "exclusions",
                                                 "hypotheses")}, sort_keys=True, default=str)


class Suite:
    """The checks a mutant must pass: every case run once under the rule base itself, and the properties over them."""

    def __init__(self, kb: KnowledgeBase, examples: Sequence[CaseSource] = (),
                 labelled: Sequence[tuple[str, CaseSource, dict[str, Any]]] = (), *,
                 properties: bool = True, property_cases: int = DEFAULT_PROPERTY_CASES, seed: int = 0) -> None:
        self.kb = kb
        self.reasoner = Reasoner(kb)
        self.subject = inv.UnderTest(kb, self.reasoner)
        self.runs: list[Run] = []
        self.pairs: list[Pair] = []
        self.benign: list[tuple[int, str, str]] = []  # run, ceiling, pattern name
        self.errors: list[str] = []
        self.counts = {"examples": 0, "with_expect": 0, "labelled": 0, "property_cases": 0, "benign": 0}
        bases: list[int] = []
        for source in examples:
            index = self._full(source, None)
            if index is not None:
                self.counts["examples"] += 1
                self.counts["with_expect"] += self.runs[index].expectation is not None
                bases.append(index)
        for name, source, expectation in labelled:
            index = self._full(source, ("labelled", expectation), name)
            if index is not None:
                self.counts["labelled"] += 1
                bases.append(index)
        if properties:
            self._properties(bases, property_cases, seed)
        self.base_pairs = [self._pair_fails(p, {}) for p in self.pairs]
        self.base_benign = [self._benign_fails(b, {}) for b in self.benign]

    # -- building the suite ---------------------------------------------------
    def _full(self, source: CaseSource, expectation: tuple[str, dict[str, Any]] | None,
              name: str | None = None) -> int | None:
        try:
            case = source.load(self.kb)
            inference = self.reasoner.infer(case)
            result = build_result(self.kb, inference)
        except HipkbError as error:
            self.errors.append(str(error))
            return None
        if expectation is None and case.expect:
            expectation = ("example", dict(case.expect))
        run = Run(name or case.case_id, case, frozenset(f.rule for f in inference.firings), _slim(inference),
                  expectation)
        run.problems = frozenset(_problems_for(self.kb, run, inference, result))
        run.answers = _answers(result)
        run.full, run.result = inference, result
        run.asks_matter = self._asks_matter(inference, expectation)
        self.runs.append(run)
        return len(self.runs) - 1

    def _asks_matter(self, inference: Inference, expectation: tuple[str, dict[str, Any]] | None) -> bool:
        """Whether the next questions alone could break a check of this run's result.

        The invariants read the next questions only for unsafe tests while an
        alarm hypothesis is possible; the expectations only for a hop test
        where ``no_hop`` is stated (or, for labelled cases, a bone stress
        injury is at 0.3 or more). The questions never ask for a finding the
        case gives or a rule forbids asking (nor another form of it): if every
        such test is one of those, no change of the questions can break a check.
        """
        safety = self.kb.safety
        ranked = inference.ranked()
        watched: set[str] = set()
        if any(s.hypothesis in safety.alarm_hypotheses and s.band in inv.BSI_ALARM_BANDS for s in ranked):
            watched |= set(safety.unsafe_tests)
        if expectation is not None:
            kind, expect = expectation
            if expect.get("no_hop"):
                watched |= set(safety.unsafe_tests)
            if kind == "labelled" and (expect.get("no_hop") or any(
                    s.hypothesis in BONE_STRESS and s.certainty >= BONE_STRESS_STOP_AT for s in ranked)):
                watched |= {path for path in self.kb.vocabulary.fields if "hop" in path}
        if not watched:
            return False
        vocabulary = self.kb.vocabulary
        never = set(inference.avoid) | {path for path, _ in inference.case.facts()}
        never |= {other for path in list(never) for other in vocabulary.same_finding(path)}
        return bool(watched - never)

    def _light(self, name: str, data: dict[str, Any]) -> int | None:
        try:
            case = validate(data, self.kb.vocabulary, name, hypotheses=self.kb.hypotheses)
            inference = self.reasoner.infer(case)
        except HipkbError:
            return None
        self.runs.append(Run(name, case, frozenset(f.rule for f in inference.firings), _slim(inference)))
        return len(self.runs) - 1

    def _properties(self, bases: list[int], limit: int, seed: int) -> None:
        subject = self.subject
        safety = self.kb.safety
        additions = [("monotone", f) for f in subject.red_flag_findings + subject.bone_findings]
        additions += [("bone-sign", f) for f in subject.bone_sign_findings] if safety.bone_sign else []
        planned: list[tuple[str, int, dict[str, Any], str]] = []
        seen: set[str] = set()
        for index in bases:
            run = self.runs[index]
            data = {k: v for k, v in run.case.to_data().items() if k not in ("format", "case_id", "expect")}
            for kind, findings in additions:
                more = inv.add_findings(data, findings, subject)
                if more is not None and more != data:
                    planned.append((kind, index, more, ", ".join(f"{k}={v}" for k, v in findings.items())))
            if safety.neutral_recodings and self._suspected_bsi(run.base):
                for recoding in safety.neutral_recodings:
                    more = inv.recode(data, dict(recoding))
                    if more != data:
                        planned.append(("recording", index, more, ", ".join(f"{k}={v}" for k, v in recoding.items())))
        unique = []
        for item in planned:
            key = json.dumps([item[0], item[1], item[2]], sort_keys=True)
            if key not in seen:
                seen.add(key)
                unique.append(item)
        if len(unique) > limit:
            unique = [unique[i] for i in sorted(random.Random(seed).sample(range(len(unique)), limit))]
        for kind, before, data, change in unique:
            after = self._light(f"{self.runs[before].name} + {change}", data)
            if after is not None:
                self.pairs.append(Pair(kind, before, after, change))
        for pattern in safety.benign:
            optional = list(pattern.optional)
            for extra in [[], *([o] for o in optional), optional]:
                found = self._light(f"benign: {pattern.name}", inv.benign_case(pattern, extra))
                if found is not None:
                    self.benign.append((found, pattern.ceiling, pattern.name))
        self.counts["property_cases"] = len(self.pairs)
        self.counts["benign"] = len(self.benign)

    def _suspected_bsi(self, inference: Inference) -> bool:
        name = self.kb.safety.bone_sign
        if not name or not inference.derived_values(name):
            return False
        top3 = inference.ranked()[:3]
        return any(s.hypothesis in self.kb.safety.bone_stress_injuries and s.band in inv.BSI_ALARM_BANDS
                   and not inv.ruled_out_by_imaging(self.kb, inference, s.hypothesis) for s in top3)

    # -- the property checks, on the rule base's answers or a mutant's ---------------
    def _bsi(self, inference: Inference) -> float:
        return max((s.certainty for s in inference.ranked() if s.hypothesis in self.kb.safety.bone_stress_injuries),
                   default=0.0)

    def _pair_fails(self, pair: Pair, now: dict[int, Inference], kb: KnowledgeBase | None = None) -> str:
        """Why *pair* breaks its property under the answers *now* (runs not in it keep the base's); '' if not."""
        before = now.get(pair.before, self.runs[pair.before].base)
        after = now.get(pair.after, self.runs[pair.after].base)
        assert before.triage and after.triage and before.running and after.running
        lowered = triage_rank(after.triage.value) > triage_rank(before.triage.value)
        name = self.runs[pair.before].name
        if pair.kind == "monotone" and lowered:
            return f"monotonicity: adding {pair.change} to {name} lowers triage {before.triage.value} -> " \
                   f"{after.triage.value}"
        loosened = running_rank(after.running.value) > running_rank(before.running.value)
        if pair.kind == "bone-sign" and (self._bsi(after) < self._bsi(before) - 1e-9 or lowered or loosened):
            return f"bone-sign monotonicity: adding {pair.change} to {name} lowers the alarm"
        if pair.kind == "recording":
            return self._recording_fails(pair, before, after, kb or self.kb)
        return ""

    def _recording_fails(self, pair: Pair, before: Inference, after: Inference, kb: KnowledgeBase) -> str:
        safety = self.kb.safety
        if not safety.bone_sign or not before.derived_values(safety.bone_sign) or \
                not after.derived_values(safety.bone_sign):
            return ""
        alarms = [s.hypothesis for s in before.ranked()[:3] if s.hypothesis in safety.bone_stress_injuries
                  and s.band in inv.BSI_ALARM_BANDS and not inv.ruled_out_by_imaging(kb, before, s.hypothesis)]
        ranked = [s.hypothesis for s in after.ranked()]
        alarm = set(safety.alarm_hypotheses)
        for hid in alarms:
            above = ranked[:ranked.index(hid)] if hid in ranked else ranked
            if hid not in ranked[:3] and len([h for h in above if h not in alarm]) >= 3:
                return f"recording robustness: recording {pair.change} pushes {hid} out of the top three " \
                       f"({self.runs[pair.before].name})"
        return ""

    def _benign_fails(self, item: tuple[int, str, str], now: dict[int, Inference]) -> str:
        index, ceiling, name = item
        inference = now.get(index, self.runs[index].base)
        assert inference.triage is not None
        if triage_rank(inference.triage.value) < triage_rank(ceiling):
            return f"benign: {name} triaged {inference.triage.value}, above {ceiling}"
        return ""

    # -- a mutant ----------------------------------------------------------------
    def affected(self, m: Mutation) -> dict[int, str]:
        """The runs a mutant can change, each with how: ``rerun``, or ``questions`` (its next questions only).

        What the engine concludes changes only where the rule fired, or where
        the mutated rule could fire now. A result checked in full also has
        next questions, which weigh every rule that has not fired and that no
        known finding blocks (and the rules that could conclude what those
        wait on): where the next questions matter to a check
        (:meth:`_asks_matter`), a rule no known finding blocks, before or
        after the change, can change them. A rule that only asks questions or
        refers changes nothing the property checks read: for those, only the
        cases checked in full.
        """
        rule = self.kb.by_id[m.rule]
        new = mutated_rule(self.kb, m)
        conditions = new.conditions if new is not None and m.operator in ("drop-condition", "swap-value") else None
        # A condition that a fact added later can falsify cannot be judged from the end of a run.
        unsure = conditions is not None and any(c.kind is cond.DERIVED and c.op == "not_in" for c in conditions)
        full_only = rule.conclusion.kind in _ANSWERS_ONLY
        out: dict[int, str] = {}
        for index, run in enumerate(self.runs):
            if full_only and not run.answers:
                continue
            if m.rule in run.fired or unsure or (conditions is not None and
                                                 all(run.base.holds(c) for c in conditions)):
                out[index] = "rerun"
            elif run.asks_matter and any(r is not None and not _blocked(r, run.case) and _weighs_questions(r, run)
                                         for r in (rule, new)):
                out[index] = "questions"
        return out

    def check(self, m: Mutation) -> Outcome:
        """Run the mutant on every case it can change; killed by the first check that newly fails.

        The cases checked in full (examples, labelled cases) first, then the
        property checks over the cases built from them.
        """
        affected = self.affected(m)
        if not affected:
            return Outcome(m, "survived", "no case reaches it")
        kb = mutate(self.kb, m)
        try:
            reasoner = Reasoner(kb)
        except Exception as error:  # a rule base that no longer compiles is no mutant to test
            return Outcome(m, "stillborn", f"{type(error).__name__}: {error}")
        now: dict[int, Inference] = {}
        changed: list[str] = []
        light_changed = 0
        full = [i for i in affected if self.runs[i].answers]
        light = [i for i in affected if not self.runs[i].answers]
        for index in full + light:
            run = self.runs[index]
            if affected[index] == "questions":
                # What the engine concluded cannot change here; the next questions can.
                assert run.full is not None and run.result is not None
                asked = next_questions(kb, run.full)
                if [q.fact for q in asked] == [q["fact"] for q in run.result["next_questions"]]:
                    continue
                changed.append(f"{run.name} (next questions)")
                result = dict(run.result, next_questions=[{"fact": q.fact, "question": q.question, "why": q.why}
                                                          for q in asked])
                new = set(_problems_for(kb, run, run.full, result)) - run.problems
                if new:
                    return Outcome(m, "killed", f"{run.name}: {sorted(new)[0]}", reached=len(affected),
                                   changed=tuple(changed))
                continue
            try:
                inference = reasoner.infer(run.case)
            except HipkbError as error:
                return Outcome(m, "killed", f"{run.name}: {error.message}", reached=len(affected))
            now[index] = _slim(inference)
            if run.answers:
                # The next questions are most of a result's cost: worked out only where a check reads them.
                asks = run.asks_matter or self._asks_matter(inference, run.expectation)
                result = build_result(kb, inference, questions=asks)
                if _answers(result) != run.answers:
                    changed.append(run.name)
                elif not asks:
                    continue
                new = set(_problems_for(kb, run, inference, result)) - run.problems
                if new:
                    return Outcome(m, "killed", f"{run.name}: {sorted(new)[0]}", reached=len(affected),
                                   changed=tuple(changed))
            elif _light_answers(now[index]) != _light_answers(run.base):
                light_changed += 1
        touched = set(affected)
        for pair, was in zip(self.pairs, self.base_pairs, strict=True):
            if not was and (pair.before in touched or pair.after in touched):
                why = self._pair_fails(pair, now, kb)
                if why:
                    return Outcome(m, "killed", why, reached=len(affected), changed=tuple(changed))
        for item, was in zip(self.benign, self.base_benign, strict=True):
            if not was and item[0] in touched:
                why = self._benign_fails(item, now)
                if why:
                    return Outcome(m, "killed", why, reached=len(affected), changed=tuple(changed))
        if changed:
            shown = ", ".join(changed[:3]) + (f" and {len(changed) - 3} more" if len(changed) > 3 else "")
            reason = f"changes the answers of {len(changed)} checked case(s) ({shown}); no expectation or " \
                     "invariant notices"
        elif light_changed:
            reason = f"changes the answers of {light_changed} property case(s) only; no property notices"
        else:
            reason = f"{len(affected)} case(s) reach it; no answer changes"
        return Outcome(m, "survived", reason, reached=len(affected), changed=tuple(changed),
                       property_changed=light_changed)


def _problems_for(kb: KnowledgeBase, run: Run, inference: Inference, result: dict[str, Any]) -> list[str]:
    """The problems of one result under a mutant's rule base (its own invariants, and the case's expectation)."""
    problems = [f"{v.code}: {v.message}" for v in inv.invariant_violations(kb, inference, result)]
    if run.expectation is not None:
        kind, expectation = run.expectation
        failures = expect_failures(run.case, result, kb.safety.unsafe_tests) if kind == "example" \
            else score(result, expectation)[0]
        problems += [f"expect: {p}" for p in failures]
    return problems


def _weighs_questions(rule: RuleDef, run: Run) -> bool:
    """Whether the next-question analysis of *run* can weigh *rule* (as :mod:`hipkb.results.questions` does).

    It weighs rules that could raise the triage, restrict the running advice,
    raise a red flag, add evidence for a hypothesis or against one with some
    for it, and (through what they wait on) the rules that conclude what
    others read; a rule that asks, avoids asking or refers it reads only once
    it has fired.
    """
    c = rule.conclusion
    inference = run.full
    assert inference is not None and inference.triage is not None and inference.running is not None
    if c.kind in _ANSWERS_ONLY:
        return False
    if c.kind is Kind.TRIAGE:
        return triage_rank(c.target) < triage_rank(inference.triage.value)
    if c.kind is Kind.RUNNING:
        return running_rank(c.target) < running_rank(inference.running.value)
    if c.kind is Kind.AGAINST:
        score = inference.scores.get(c.target)
        return score is not None and score.certainty > 0
    return True


def _blocked(rule: RuleDef, case: Case) -> bool:
    """Whether a known finding of *case* fails one of *rule*'s conditions (then no answer can make it fire)."""
    for c in rule.conditions:
        if c.kind is cond.CASE:
            value = case.get(c.subject)
            if value is not None and not c.test(value):
                return True
    return False


def _light_answers(inference: Inference) -> tuple:
    assert inference.triage is not None and inference.running is not None
    return (inference.triage.value, inference.running.value, tuple(sorted(inference.red_flags)),
            tuple((s.hypothesis, s.certainty) for s in inference.ranked()),
            tuple(sorted((h, c.value) for h, c in inference.exclusions.items())))


@dataclass(frozen=True)
class Outcome:
    """What became of one mutant: killed (and by what), survived (and why nothing noticed), or stillborn."""

    mutation: Mutation
    status: str
    reason: str = ""
    #: How many runs (checked cases and property cases) the mutant could change, and was run on.
    reached: int = 0
    #: The checked cases (examples, labelled cases) whose answers it changed, as far as it was run.
    changed: tuple[str, ...] = ()
    #: How many property cases' answers it changed (survivors only).
    property_changed: int = 0


# -- a run, and its report ---------------------------------------------------------------

@dataclass
class Report:
    kb: dict[str, Any]
    made: int
    outcomes: list[Outcome]
    suite: dict[str, Any]
    seconds: float = 0.0
    budget: str = ""
    files: dict[str, str] = field(default_factory=dict)
    descriptions: dict[str, str] = field(default_factory=dict)

    def _of(self, status: str) -> list[Outcome]:
        return [o for o in self.outcomes if o.status == status]

    @property
    def killed(self) -> list[Outcome]:
        return self._of("killed")

    @property
    def survived(self) -> list[Outcome]:
        return self._of("survived")

    @property
    def score(self) -> float | None:
        tested = len(self.killed) + len(self.survived)
        return len(self.killed) / tested if tested else None

    def by_operator(self) -> dict[str, dict[str, int]]:
        out = {op: {"killed": 0, "survived": 0, "stillborn": 0} for op in OPERATORS}
        for o in self.outcomes:
            out[o.mutation.operator][o.status] += 1
        return {op: counts for op, counts in out.items() if sum(counts.values())}

    def survivors_by_file(self) -> dict[str, list[Outcome]]:
        groups: dict[str, list[Outcome]] = {}
        for o in sorted(self.survived, key=lambda o: (self.files.get(o.mutation.rule, ""), o.mutation.rule,
                                                     o.mutation.key)):
            groups.setdefault(self.files.get(o.mutation.rule, ""), []).append(o)
        return groups

    def outcome_dict(self, o: Outcome) -> dict[str, Any]:
        return {"mutant": o.mutation.key, "operator": o.mutation.operator, "rule": o.mutation.rule,
                "change": self.descriptions.get(o.mutation.key, ""), "status": o.status, "reason": o.reason,
                "cases_reached": o.reached, "checked_cases_changed": list(o.changed),
                "property_cases_changed": o.property_changed}

    def to_dict(self) -> dict[str, Any]:
        return {"format": "hipkb-mutants/1", "kb": self.kb, "made": self.made, "run": len(self.outcomes),
                "killed": len(self.killed), "survived": len(self.survived),
                "stillborn": len(self._of("stillborn")), "score": None if self.score is None else round(self.score, 4),
                "budget": self.budget, "seconds": round(self.seconds, 1), "suite": self.suite,
                "by_operator": self.by_operator(),
                "survivors": {file: [self.outcome_dict(o) for o in group]
                              for file, group in self.survivors_by_file().items()},
                "killed_by": [self.outcome_dict(o) for o in sorted(self.killed, key=lambda o: o.mutation.key)]}


_WORKER: dict[str, Suite] = {}


def start_worker(kbs: tuple[tuple[Any, Any], ...], examples: list[CaseSource],
                 labelled: list[tuple[str, CaseSource, dict[str, Any]]], settings: dict[str, Any]) -> None:
    """Load the rule base and run its suite once, in each worker process."""
    from hipkb.knowledge.store import load_kb

    ((rules, facts),) = kbs
    _WORKER["suite"] = Suite(load_kb(rules, facts), examples, labelled, **settings)


def work(chunk: list[Mutation]) -> list[Outcome]:
    suite = _WORKER["suite"]
    return [suite.check(m) for m in chunk]


def run(kb: KnowledgeBase, examples: Sequence[CaseSource] = (),
        labelled: Sequence[tuple[str, CaseSource, dict[str, Any]]] = (), *,
        operators: Iterable[str] = OPERATORS, budget: int | None = None, seconds: float | None = None,
        seed: int = 0, properties: bool = True, property_cases: int = DEFAULT_PROPERTY_CASES, jobs: int = 1,
        cluster: str | None = None, progress: Callable[[int, int], None] | None = None) -> Report:
    """Make the mutants of *kb*, run each against the suite, and report the score and every survivor.

    *budget*: at most this many mutants (a seeded sample, spread over
    operators and files); *seconds*: stop starting new ones after this long.
    """
    started = time.monotonic()
    made = mutations(kb, operators)
    order = list(made)
    random.Random(seed).shuffle(order)  # a budget takes a fair sample; a deadline cuts a fair one
    if budget is not None:
        order = order[:budget]
    chunks = [order[i:i + CHUNKSIZE] for i in range(0, len(order), CHUNKSIZE)]
    settings: dict[str, Any] = {"properties": properties, "property_cases": property_cases, "seed": seed}
    deadline = None if seconds is None else started + seconds
    done = [0]

    def paced(items: list[list[Mutation]]) -> Iterator[list[Mutation]]:
        for item in items:
            if deadline is not None and time.monotonic() >= deadline:
                return
            yield item

    outcomes: list[Outcome] = []
    if cluster is None and jobs <= 1:
        suite = Suite(kb, examples, labelled, **settings)
        info = dict(suite.counts, errors=suite.errors)
        for chunk in paced(chunks):
            outcomes += [suite.check(m) for m in chunk]
            done[0] += len(chunk)
            if progress:
                progress(done[0], len(order))
    else:
        from hipkb.batch import jobs as batch_jobs

        if kb.rules_dir is None or kb.facts_dir is None:
            raise HipkbError("--mutants", "", "a knowledge base not loaded from directories cannot be sent to "
                             "workers")
        if cluster is not None:
            from hipkb.batch.cluster import portable

            examples = [portable(s) for s in examples]
            labelled = [(name, portable(s), e) for name, s, e in labelled]
        probe = Suite(kb, examples, labelled, **settings)  # what the workers build: its counts for the report
        info = dict(probe.counts, errors=probe.errors)
        job = batch_jobs.Job(start_worker, work, kbs=((kb.rules_dir, kb.facts_dir),),
                             args=(list(examples), list(labelled), settings))

        def lost(chunk: list[Mutation], reason: str) -> list[Outcome]:
            return [Outcome(m, "stillborn", f"not run: {reason}") for m in chunk]

        for part in batch_jobs.run(job, paced(chunks), jobs=jobs, cluster=cluster, lost=lost):
            outcomes += part
            done[0] += len(part)
            if progress:
                progress(done[0], len(order))
    budget_note = []
    if budget is not None and budget < len(made):
        budget_note.append(f"a sample of {budget:,} of {len(made):,}, seed {seed}")
    if deadline is not None and len(outcomes) < len(order):
        budget_note.append(f"stopped after {seconds:g} s")
    report = Report({"name": kb.name, "version": kb.version, "rules": len(kb.rules),
                     "rules_dir": str(kb.rules_dir) if kb.rules_dir else None}, len(made), outcomes, info,
                    budget="; ".join(budget_note), files={r.id: r.file for r in kb.rules},
                    descriptions={m.key: m.describe(kb) for m in made})
    report.seconds = time.monotonic() - started
    return report


__all__ = ["DEFAULT_PROPERTY_CASES", "OPERATORS", "Mutation", "Outcome", "Report", "Suite", "mutate", "mutated_rule",
           "mutations", "run"]
