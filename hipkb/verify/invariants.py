"""The invariants every result of a knowledge base must keep, checked without hypothesis.

Safety (an alarm hypothesis or a red flag means urgent triage and stop running,
and no loading test is suggested), consistent advice, traceability (every
conclusion unfolds to the case), determinism, order independence, termination
and monotonicity (adding a red-flag or bone finding never lowers triage or
loosens running advice). Each check takes a knowledge base under test
(:class:`UnderTest`) and one case; :mod:`hipkb.verify.exhaustive` runs them over
every combination of chosen fields, and :mod:`hipkb.testing.properties` over
cases hypothesis draws. A failure is a :class:`PropertyFailure` holding the
case, cut down by :func:`minimize` to the fewest findings that still fail.
"""

from __future__ import annotations

import functools
import json
import random
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml

from hipkb.engine.reasoner import Reasoner
from hipkb.engine.record import Inference
from hipkb.errors import HipkbError, InferenceError, PropertyFailure
from hipkb.knowledge import conditions as cond
from hipkb.knowledge.kinds import Kind
from hipkb.knowledge.rules import BenignPattern, KnowledgeBase
from hipkb.knowledge.scales import running_rank, triage_rank
from hipkb.knowledge.store import KEEP, load_kb
from hipkb.load.case import Case, validate
from hipkb.results.result import build_result, to_json

#: Bands at which an alarm hypothesis (``safety.alarm_hypotheses`` in kb.yaml)
#: calls for stopping and prompt care.
BSI_ALARM_BANDS = ("possible", "likely")


@dataclass(frozen=True)
class Violation:
    """One broken invariant: a short code (to compare while shrinking) and a sentence."""

    code: str
    message: str

    def __str__(self) -> str:
        return self.message


# --------------------------------------------------------------------------
# the knowledge base under test


class UnderTest:
    """A knowledge base under test: loaded once, with its engine built once."""

    def __init__(self, kb: KnowledgeBase, reasoner: Reasoner | None = None) -> None:
        self.kb = kb
        if reasoner is not None:
            self.reasoner = reasoner

    @cached_property
    def reasoner(self) -> Reasoner:
        """The compiled engine, built on first use (building the Rete network is the slow part)."""
        return Reasoner(self.kb)

    # -- running cases -----------------------------------------------------
    def case(self, data: dict[str, Any]) -> Case:
        return validate(data, self.kb.vocabulary, "<generated>", hypotheses=self.kb.hypotheses)

    def infer(self, data: dict[str, Any]) -> tuple[Case, Inference, dict[str, Any]]:
        """Validate and run *data*; the case, the inference and the result data."""
        case = self.case(data)
        inference = self.reasoner.infer(case)
        return case, inference, build_result(self.kb, inference)

    def json(self, data: dict[str, Any]) -> str:
        return to_json(self.infer(data)[2])

    # -- what the knowledge base says about findings -----------------------
    @cached_property
    def _expander(self):
        from hipkb.verify.logic import Expander

        return Expander(self.kb)

    def _pins(self, rules) -> list[dict[str, Any]]:
        from hipkb.verify.logic import witness

        pins: list[dict[str, Any]] = []
        for rule in rules:
            for alternative in (self._expander.rule(rule) or [])[:8]:
                flat = witness(alternative, self.kb.vocabulary)
                if flat is None:
                    continue
                pin = {k: v for k, v in flat.items() if any(c.subject == k for c in alternative)}
                if pin and pin not in pins:
                    pins.append(pin)
        return pins

    @cached_property
    def red_flag_findings(self) -> list[dict[str, Any]]:
        """Sets of findings (``{"group.field": value}``) that raise a red flag."""
        return self._pins([r for r in self.kb.rules if r.conclusion.kind is Kind.RED_FLAG])

    def _witnesses(self, rules) -> list[dict[str, Any]]:
        """For each rule (its first alternatives), the smallest valid case that meets it."""
        from hipkb.verify.logic import witness

        flats: list[dict[str, Any]] = []
        for rule in rules:
            for alternative in (self._expander.rule(rule) or [])[:8]:
                flat = witness(alternative, self.kb.vocabulary)
                if flat is not None and flat not in flats:
                    flats.append(flat)
        return flats

    @cached_property
    def alarm_witnesses(self) -> list[dict[str, Any]]:
        """Cases the knowledge base itself says point to an alarm hypothesis, tried before any search.

        Each rule that supports an alarm hypothesis gives the smallest case
        that meets it, and each alarm hypothesis the union of those that
        agree: a broken safety rule shows on these without luck in the draw.
        """
        from hipkb.verify.logic import nest

        cases: list[dict[str, Any]] = []
        for alarm in sorted(self.kb.safety.alarm_hypotheses):
            union: dict[str, Any] = {}
            for flat in self._witnesses([r for r in self.kb.rules
                                         if r.conclusion.kind is Kind.SUPPORTS and r.conclusion.target == alarm]):
                if nest(flat) not in cases:
                    cases.append(nest(flat))
                union = _merged(union, flat, self.kb.vocabulary) or union
            if union and nest(union) not in cases:
                try:
                    self.case(nest(union))
                except HipkbError:
                    continue  # findings each rule allows but the case format does not allow together
                cases.append(nest(union))
        return cases

    @cached_property
    def red_flag_witnesses(self) -> list[dict[str, Any]]:
        """The smallest case that raises each red flag of the knowledge base."""
        from hipkb.verify.logic import nest

        flags = [r for r in self.kb.rules if r.conclusion.kind is Kind.RED_FLAG]
        return [nest(flat) for flat in self._witnesses(flags)]

    @cached_property
    def bone_findings(self) -> list[dict[str, Any]]:
        """Single findings that count towards a bone stress injury, through the chain."""
        from hipkb.verify.logic import value_for

        rules = [r for r in self.kb.rules
                 if r.conclusion.kind is Kind.SUPPORTS and r.conclusion.target in self.kb.safety.alarm_hypotheses]
        found: list[dict[str, Any]] = []
        for rule in rules:
            for alternative in self._expander.rule(rule) or []:
                for c in sorted(alternative, key=lambda c: (c.subject, repr(c.values))):
                    if c.op == "unless":
                        continue
                    spec = self.kb.vocabulary.fields[c.subject]
                    value = value_for(spec, [c])
                    if value is not None and {c.subject: value} not in found:
                        found.append({c.subject: value})
        return found

    @cached_property
    def bone_sign_findings(self) -> list[dict[str, Any]]:
        """Single findings that conclude a strong bone sign (``safety.bone_sign`` in kb.yaml)."""
        from hipkb.verify.logic import value_for

        name = self.kb.safety.bone_sign
        found: list[dict[str, Any]] = []
        for rule in self.kb.rules:
            if rule.conclusion.kind is not Kind.DERIVE or rule.conclusion.target != name:
                continue
            for alternative in self._expander.rule(rule) or []:
                # An unless holds while its finding is unknown: it adds no finding.
                flat = {c.subject: value_for(self.kb.vocabulary.fields[c.subject], [c])
                        for c in alternative if c.op != "unless"}
                # A sign that needs other findings too (a region) comes with them.
                if all(v is not None for v in flat.values()) and flat not in found:
                    found.append(flat)
        return found


def _merged(flat: dict[str, Any], more: dict[str, Any], vocabulary) -> dict[str, Any] | None:
    """Two flat cases as one (a set field's values joined), or None where they disagree on a finding."""
    out = dict(flat)
    for path, value in more.items():
        if path not in out or out[path] == value:
            out[path] = value
        elif vocabulary.fields[path].type == "set":
            out[path] = [v for v in vocabulary.fields[path].values if v in out[path] or v in value]
        else:
            return None
    return out


# The knowledge bases under test, by the store's knowledge base (held here, so its id stays its own).
_UNDER_TEST: OrderedDict[int, UnderTest] = OrderedDict()


def load(rules_dir: str | Path | None = None, facts_dir: str | Path | None = None) -> UnderTest:
    """The knowledge base of *rules_dir* and *facts_dir* (shipped ones when None) from the store, under test.

    The store (:func:`hipkb.knowledge.store.load_kb`) loads it again once a
    file is edited; its engine is built once per knowledge base.
    """
    kb = load_kb(rules_dir, facts_dir)
    subject = _UNDER_TEST.get(id(kb))
    if subject is None or subject.kb is not kb:
        subject = _UNDER_TEST[id(kb)] = UnderTest(kb)
        while len(_UNDER_TEST) > KEEP:
            _UNDER_TEST.popitem(last=False)
    return subject


def subject_of(rules_dir: str | Path | UnderTest | None, facts_dir: str | Path | None) -> UnderTest:
    return rules_dir if isinstance(rules_dir, UnderTest) else load(rules_dir, facts_dir)


# --------------------------------------------------------------------------
# invariants of one result


def case_yaml(data: dict[str, Any]) -> str:
    """A case as the case file a researcher can save and run."""
    return yaml.safe_dump(data, sort_keys=False, default_flow_style=None, allow_unicode=True)


def _bsi_alarms(kb: KnowledgeBase, result: dict[str, Any]) -> list[str]:
    alarms = kb.safety.alarm_hypotheses
    return [h["id"] for h in result["hypotheses"] if h["id"] in alarms and h["band"] in BSI_ALARM_BANDS]


def safety_violations(kb: KnowledgeBase, result: dict[str, Any]) -> list[Violation]:
    """The safety invariants of one result."""
    found = []
    triage, running = result["triage"]["level"], result["running"]["advice"]
    for hid in _bsi_alarms(kb, result):
        band = next(h["band"] for h in result["hypotheses"] if h["id"] == hid)
        if running != "stop":
            found.append(Violation("bsi-running", f"{hid} is {band} but running advice is {running}, not stop"))
        if triage_rank(triage) > triage_rank("urgent"):
            found.append(Violation("bsi-triage", f"{hid} is {band} but triage is {triage}, not urgent or more"))
        asked = [q["fact"] for q in result["next_questions"] if q["fact"] in kb.safety.unsafe_tests]
        if asked:
            found.append(Violation("bsi-hop-question", f"{hid} is {band} but the next questions ask about "
                                   f"{', '.join(asked)}"))
    flags = [f["id"] for f in result["red_flags"]]
    if flags and triage_rank(triage) > triage_rank("urgent"):
        found.append(Violation("red-flag-triage", f"red flag {', '.join(flags)} but triage is {triage}"))
    emergencies = [f for f in flags if kb.red_flags[f].emergency]
    if emergencies and triage != "emergency":
        found.append(Violation("emergency-triage", f"emergency red flag {', '.join(emergencies)} but triage is "
                               f"{triage}"))
    return found


def advice_violations(kb: KnowledgeBase, result: dict[str, Any], case: Case | None = None) -> list[Violation]:
    """Advice in one result that contradicts itself or the rules that fired."""
    found = []
    triage, running = result["triage"]["level"], result["running"]["advice"]
    flags = [f["id"] for f in result["red_flags"]]
    if running == "continue_as_tolerated" and triage in ("urgent", "emergency"):
        found.append(Violation("advice-run-urgent", f"running continue_as_tolerated with triage {triage}"))
    if running == "continue_as_tolerated" and flags:
        found.append(Violation("advice-run-red-flag", f"running continue_as_tolerated with red flag "
                               f"{', '.join(flags)}"))
    if triage == "self_care" and flags:
        found.append(Violation("advice-self-care-red-flag", f"triage self_care with red flag {', '.join(flags)}"))
    # The shell's precedence: the most urgent triage and most restrictive advice voted for must win;
    # a rule marked default votes only when no other rule of its kind has.
    rules = [kb.by_id[f["rule"]] for f in result["fired"] if f["rule"] in kb.by_id]

    def votes(kind: str) -> list[str]:
        cast = [r for r in rules if r.conclusion.kind == kind]
        return [r.conclusion.target for r in ([r for r in cast if not r.conclusion.default] or cast)]

    triage_votes, running_votes = votes("triage"), votes("running")
    if triage_votes and triage_rank(triage) > min(triage_rank(v) for v in triage_votes):
        found.append(Violation("advice-triage-precedence", f"triage {triage} although a rule called for "
                               f"{min(triage_votes, key=triage_rank)}"))
    if running_votes and running_rank(running) > min(running_rank(v) for v in running_votes):
        found.append(Violation("advice-running-precedence", f"running {running} although a rule called for "
                               f"{min(running_votes, key=running_rank)}"))
    if case is not None:
        known = [q["fact"] for q in result["next_questions"] if case.get(q["fact"]) is not None]
        if known:
            found.append(Violation("question-known", f"next questions ask for {', '.join(known)}, which the case "
                                   "already gives"))
    avoided = {fact for f in result["fired"] if f["asserted"].startswith("avoid_asking=")
               for fact in f["asserted"].split("=", 1)[1].split(",")}
    asked = sorted(avoided & {q["fact"] for q in result["next_questions"]})
    if asked:
        found.append(Violation("question-avoided", f"next questions ask for {', '.join(asked)}, which a rule "
                               "forbids asking"))
    return found


def trace_violations(kb: KnowledgeBase, inference: Inference, result: dict[str, Any]) -> list[Violation]:
    """Conclusions that do not rest on the case's findings, and firings whose conditions do not hold."""
    found: list[Violation] = []
    grounded = set(inference.facts_known()) - set(inference.derived)
    pending: dict[str, list] = dict(inference.derived)
    pending.update({f"red_flag={flag}": justs for flag, justs in inference.red_flags.items()})
    holds = set(grounded) | set(pending)
    holds |= {f"hypothesis.{h}={s.band}" for h, s in inference.scores.items()}
    for fact, justs in sorted(pending.items()):
        for j in justs:
            for cited in j.facts:
                if cited not in holds:
                    found.append(Violation("dangling", f"{fact} (by {j.rule}) cites {cited}, which does not hold"))
            rule = kb.rule(j.rule)
            if rule is None or (rule.conclusion.kind is Kind.DERIVE and rule.conclusion.asserted() != fact) or (
                    rule.conclusion.kind is Kind.RED_FLAG and f"red_flag={rule.conclusion.target}" != fact):
                found.append(Violation("wrong-rule", f"{fact} is justified by {j.rule}, which does not conclude it"))
    # Least fixpoint: a fact is grounded once one of its justifications rests
    # only on grounded facts; what never gets there is circular or dangling.
    changed = True
    while changed:
        changed = False
        for fact, justs in pending.items():
            if fact not in grounded and any(all(f in grounded for f in j.facts) for j in justs):
                grounded.add(fact)
                changed = True
    for fact in sorted(set(pending) - grounded):
        found.append(Violation("ungrounded", f"{fact} does not rest on the case's findings (circular or dangling "
                               "support)"))
    for hid, score in sorted(inference.scores.items()):
        for item in score.evidence:
            loose = [f for f in item.facts if f not in grounded]
            if loose:
                found.append(Violation("ungrounded", f"evidence {item.rule} on {hid} cites {', '.join(loose)}, "
                                       "which is not grounded in the case"))
        grounded.add(f"hypothesis.{hid}={score.band}")
    for hid, choice in sorted(inference.exclusions.items()):
        for j in inference.status_votes.get(f"{hid}={choice.value}", []):
            loose = [f for f in j.facts if f not in grounded]
            if loose:
                found.append(Violation("ungrounded", f"status {hid}={choice.value} (by {j.rule}) cites "
                                       f"{', '.join(loose)}, which is not grounded in the case"))
        grounded.add(f"status.{hid}={choice.value}")
    fired = {f.rule for f in inference.firings}
    for firing in inference.firings:
        rule = kb.rule(firing.rule)
        if rule is None:
            continue
        for c in rule.conditions:
            if not inference.holds(c):
                found.append(Violation("unsound-firing", f"{rule.id} fired but '{c.describe()}' does not hold"))
        loose = [f for f in firing.facts if f not in grounded]
        if loose:
            found.append(Violation("ungrounded", f"{rule.id} fired on {', '.join(loose)}, not grounded in the case"))
    for part in ("triage", "running"):
        missing = [r for r in result[part]["because"] if r not in fired]
        if missing:
            found.append(Violation("dangling", f"{part} because {', '.join(missing)}, which did not fire"))
    derived_in_result = {d["fact"] for d in result["derived"]}
    if derived_in_result != set(inference.derived):
        found.append(Violation("result-derived", "the result's derived facts differ from the inference's"))
    return found


def restriction_violations(kb: KnowledgeBase, inference: Inference, result: dict[str, Any]) -> list[Violation]:
    """What breaks "not excluded and at risk means restricted" in one result (``hipkb check --exhaustive`` too)."""
    safety = kb.safety
    if not safety.risk_fact or not safety.restricting_risk:
        return []
    levels = set(inference.derived_values(safety.risk_fact)) & set(safety.restricting_risk)
    open_bsis = [e["id"] for e in result.get("exclusions", [])
                 if e["id"] in safety.bone_stress_injuries and e["status"] == "not_excluded"]
    if not levels or not open_bsis:
        return []
    problems = []
    if result["running"]["advice"] == "continue_as_tolerated":
        problems.append(Violation("at-risk-running", f"{', '.join(open_bsis)} not excluded at "
                                  f"{', '.join(sorted(levels))} risk, but running is continue_as_tolerated"))
    asked = [q["fact"] for q in result["next_questions"] if q["fact"] in safety.unsafe_tests]
    if asked:
        problems.append(Violation("at-risk-loading-test", f"{', '.join(open_bsis)} not excluded at "
                                  f"{', '.join(sorted(levels))} risk, but the next questions ask about "
                                  f"{', '.join(asked)}"))
    return problems


def invariant_violations(kb: KnowledgeBase, inference: Inference, result: dict[str, Any]) -> list[Violation]:
    """Every invariant one result must satisfy: safety, consistent advice, traceability, and no bone
    stress injury left not excluded at risk without a restriction (:mod:`hipkb.verify.worst_first`)."""
    return (safety_violations(kb, result) + advice_violations(kb, result, inference.case)
            + trace_violations(kb, inference, result) + restriction_violations(kb, inference, result))


# --------------------------------------------------------------------------
# per-case assertions (also usable on their own, without hypothesis)


def fail(title: str, data: dict[str, Any], details: Iterable[Any] = (),
          still_fails: Callable[[dict[str, Any]], bool] | None = None,
          recheck: Callable[[dict[str, Any]], None] | None = None) -> None:
    raise PropertyFailure(title, data, details, still_fails, recheck)


def _codes_persist(subject: UnderTest, codes: set[str],
                   find: Callable[[Case, Inference, dict[str, Any]], list[Violation]]) -> Callable[[dict], bool]:
    def still_fails(data: dict[str, Any]) -> bool:
        try:
            case, inference, result = subject.infer(data)
        except (HipkbError, AssertionError):
            return False
        return any(v.code in codes for v in find(case, inference, result))

    return still_fails


def minimize(subject: UnderTest, data: dict[str, Any], still_fails: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    """Remove fields (and list items) from *data* while *still_fails* holds; the smallest case left.

    Greedy and deterministic: it tries the keys in order and starts over after
    every removal that keeps the failure, so the result is 1-minimal: removing
    any one more field or item makes the failure go away.
    """
    vocabulary = subject.kb.vocabulary
    current = json.loads(json.dumps(data))
    changed = True
    while changed:
        changed = False
        for candidate in _smaller(current, vocabulary):
            if still_fails(candidate):
                current, changed = candidate, True
                break
    # Groups in the vocabulary's order, as a case file is usually written.
    order = {name: index for index, name in enumerate([*vocabulary.top, *vocabulary.groups])}
    return dict(sorted(current.items(), key=lambda item: order.get(item[0], len(order))))


def _smaller(data: dict[str, Any], vocabulary) -> Iterable[dict[str, Any]]:
    for key in list(data):
        if key in vocabulary.groups and isinstance(data[key], dict):
            group = data[key]
            for name in list(group):
                spec = vocabulary.groups[key].fields.get(name)
                value = group[name]
                if isinstance(value, list) and spec is not None and len(value) > max(spec.min_items, 0):
                    for index in range(len(value)):
                        if len(value) - 1 >= spec.min_items:
                            yield {**data, key: {**group, name: value[:index] + value[index + 1:]}}
                if spec is not None and spec.required:
                    continue
                rest = {k: v for k, v in group.items() if k != name}
                yield {**data, key: rest} if rest else {k: v for k, v in data.items() if k != key}
            if not group:
                yield {k: v for k, v in data.items() if k != key}
        elif key in ("format", "case_id", "expect"):
            yield {k: v for k, v in data.items() if k != key}


def shuffled(data: Any, rnd: random.Random) -> Any:
    """The same case with the keys of every mapping and the items of every list in another order."""
    if isinstance(data, dict):
        keys = list(data)
        rnd.shuffle(keys)
        return {k: shuffled(data[k], rnd) for k in keys}
    if isinstance(data, list):
        items = [shuffled(x, rnd) for x in data]
        rnd.shuffle(items)
        return items
    return data


def assert_deterministic(subject: UnderTest, data: dict[str, Any], rnd: random.Random,
                         other: dict[str, Any] | None = None) -> None:
    """Same JSON: twice, shuffled, and after another case has run on the same engine."""
    first = subject.json(data)
    if subject.json(data) != first:
        fail("determinism: the same case run twice gave different JSON", data)
    mixed = shuffled(data, rnd)
    if subject.json(mixed) != first:
        fail("determinism: the same case with keys and lists in another order gave different JSON", data,
              [f"shuffled as: {json.dumps(mixed)}"])
    if other is not None:
        subject.json(other)
        if subject.json(data) != first:
            fail("determinism: the case gave different JSON after another case ran on the same engine", data,
                  [f"other case: {json.dumps(other)}"])


def assert_order_independent(subject: UnderTest, data: dict[str, Any], order: list[int]) -> None:
    """The result does not depend on the order the case's fact groups are declared in."""
    case = subject.case(data)
    expected = to_json(build_result(subject.kb, subject.reasoner.infer(case)))
    groups = [g for g, values in case.findings.items() if values]
    got = to_json(build_result(subject.kb, subject.reasoner.infer(case, order)))
    if got != expected:
        fail("order independence: declaring the fact groups in another order changed the result", data,
              ["order: " + ", ".join(groups[i] for i in order), _first_difference(expected, got)])


def _first_difference(a: str, b: str) -> str:
    left, right = json.loads(a), json.loads(b)
    for key in left:
        if left[key] != right.get(key):
            return f"{key}: {json.dumps(left[key])[:300]} vs {json.dumps(right.get(key))[:300]}"
    return "the JSON differs"


def assert_terminates(subject: UnderTest, data: dict[str, Any]) -> None:
    try:
        _, inference, _ = subject.infer(data)
    except InferenceError as error:
        fail(f"termination: {error.message}", data)
        return
    if len(inference.firings) >= subject.reasoner.max_firings:
        fail(f"termination: {len(inference.firings)} firings reach the bound", data)


def _assert_no_violations(subject: UnderTest, data: dict[str, Any], title: str,
                          find: Callable[[Case, Inference, dict[str, Any]], list[Violation]]) -> None:
    """Fail with *title* when *find* reports violations in the result of *data*, shrinking to the codes found."""
    case, inference, result = subject.infer(data)
    problems = find(case, inference, result)
    if problems:
        fail(title, data, problems, _codes_persist(subject, {v.code for v in problems}, find),
              lambda d: _assert_no_violations(subject, d, title, find))


def assert_traceable(subject: UnderTest, data: dict[str, Any]) -> None:
    _assert_no_violations(subject, data, "traceability: a conclusion does not trace back to the case's findings",
                          lambda c, i, r: trace_violations(subject.kb, i, r))


def assert_safe(subject: UnderTest, data: dict[str, Any]) -> None:
    _assert_no_violations(subject, data, "safety: the result breaks a safety invariant",
                          lambda c, i, r: safety_violations(subject.kb, r))


def assert_consistent_advice(subject: UnderTest, data: dict[str, Any]) -> None:
    _assert_no_violations(subject, data, "consistent advice: the result contradicts itself",
                          lambda c, i, r: advice_violations(subject.kb, r, c))


def add_findings(data: dict[str, Any], findings: dict[str, Any], subject: UnderTest) -> dict[str, Any] | None:
    """*data* with *findings* added, or None when one of them would change a known finding."""
    out = {k: (dict(v) if isinstance(v, dict) else v) for k, v in data.items()}
    case = subject.case(data)
    for path, value in findings.items():
        group, _, name = path.partition(".")
        known = case.get(path)
        spec = subject.kb.vocabulary.fields[path]
        if spec.type == "set":
            current = list(known) if isinstance(known, tuple) else []
            value = [v for v in spec.values if v in current or v in value]
        elif known is not None and known != value:
            return None  # a change, not an addition
        target = out.get(group)
        out[group] = dict(target) if isinstance(target, dict) else {}
        out[group][name] = value
    return out


def assert_monotone(subject: UnderTest, data: dict[str, Any], additions: Iterable[dict[str, Any]]) -> None:
    """Adding red-flag or bone-type findings never lowers triage."""
    _, _, before = subject.infer(data)
    level = before["triage"]["level"]
    for findings in additions:
        more = add_findings(data, findings, subject)
        if more is None:
            continue
        _, _, after = subject.infer(more)
        if triage_rank(after["triage"]["level"]) > triage_rank(level):
            added = ", ".join(f"{k}={v}" for k, v in findings.items())
            fail(f"monotonicity: adding {added} lowered triage from {level} to {after['triage']['level']}", data,
                  [f"triage after: {after['triage']['level']} because {', '.join(after['triage']['because'])}"],
                  functools.partial(lowers_by, subject, findings),
                  functools.partial(_monotone_with, subject, findings))


def lowers_by(subject: UnderTest, findings: dict[str, Any], data: dict[str, Any]) -> bool:
    """:func:`lowers` with the findings first, to bind them (``functools.partial``)."""
    return lowers(subject, data, findings)


def _monotone_with(subject: UnderTest, findings: dict[str, Any], data: dict[str, Any]) -> None:
    assert_monotone(subject, data, [findings])


def lowers(subject: UnderTest, data: dict[str, Any], findings: dict[str, Any]) -> bool:
    try:
        more = add_findings(data, findings, subject)
        if more is None:
            return False
        before, after = subject.infer(data)[2], subject.infer(more)[2]
    except HipkbError:
        return False
    return triage_rank(after["triage"]["level"]) > triage_rank(before["triage"]["level"])


def still_failing(check: Callable[..., None], subject: UnderTest, *extra: Any) -> Callable[[dict[str, Any]], bool]:
    """For :func:`minimize`: whether ``check(subject, data, *extra)`` still fails on a smaller case."""
    def fails(data: dict[str, Any]) -> bool:
        try:
            check(subject, data, *extra)
        except (PropertyFailure, HipkbError):
            return True
        return False

    return fails


def rechecking(check: Callable[..., None], subject: UnderTest, *extra: Any) -> Callable[[dict[str, Any]], None]:
    """For a failure's restatement on the minimal case: ``check(subject, data, *extra)``."""
    return lambda data: check(subject, data, *extra)


def check_failed(check: Callable[..., None], subject: UnderTest, title: str, data: dict[str, Any],
                 details: Iterable[Any], *extra: Any) -> None:
    """Fail *check* on *data*, ready to be cut down by :func:`minimize` and restated on the smaller case."""
    fail(title, data, details, still_failing(check, subject, *extra), rechecking(check, subject, *extra))


# --------------------------------------------------------------------------
# recording robustness: the same patient, recorded another way


def _fails_with(check: Callable[[UnderTest, dict[str, Any], dict[str, Any]], None], subject: UnderTest,
                extra: dict[str, Any], data: dict[str, Any]) -> bool:
    """Whether *check* still fails on *data* (for :func:`minimize`), with its extra argument bound first."""
    try:
        check(subject, data, extra)
    except (PropertyFailure, HipkbError):
        return True
    return False


def _check_with(check: Callable[[UnderTest, dict[str, Any], dict[str, Any]], None], subject: UnderTest,
                extra: dict[str, Any], data: dict[str, Any]) -> None:
    check(subject, data, extra)


def _bsi_certainty(subject: UnderTest, result: dict[str, Any]) -> float:
    """The highest certainty of any bone stress injury (``safety.bone_stress_injuries``), 0 if none is ranked."""
    bsis = subject.kb.safety.bone_stress_injuries
    return max((h["certainty"] for h in result["hypotheses"] if h["id"] in bsis), default=0.0)


def lowered_alarm(subject: UnderTest, before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """How *after* lowers the alarm of *before*: a bone stress injury's certainty, the triage, the running advice."""
    problems = []
    was, now = _bsi_certainty(subject, before), _bsi_certainty(subject, after)
    if now < was - 1e-9:
        problems.append(f"bone stress injury certainty {was:g} -> {now:g}")
    if triage_rank(after["triage"]["level"]) > triage_rank(before["triage"]["level"]):
        problems.append(f"triage {before['triage']['level']} -> {after['triage']['level']}")
    if running_rank(after["running"]["advice"]) > running_rank(before["running"]["advice"]):
        problems.append(f"running {before['running']['advice']} -> {after['running']['advice']}")
    return problems


def assert_bone_sign_monotone(subject: UnderTest, data: dict[str, Any], sign: dict[str, Any]) -> None:
    """Adding a strong bone sign never lowers the certainty of a bone stress injury, the triage or the running advice.

    The highest certainty among the bone stress injuries: a sign can move the
    suspicion from one site to another (an MRI names the site), never away from bone.
    """
    more = add_findings(data, sign, subject)
    if more is None:
        return  # the case already says otherwise: a change, not an addition
    _, _, before = subject.infer(data)
    _, _, after = subject.infer(more)
    added = ", ".join(f"{k}={v}" for k, v in sign.items())
    problems = lowered_alarm(subject, before, after)
    if problems:
        fail(f"bone-sign monotonicity: adding {added} lowered the alarm", data, problems,
              functools.partial(_fails_with, assert_bone_sign_monotone, subject, sign),
              functools.partial(_check_with, assert_bone_sign_monotone, subject, sign))


def recode(data: dict[str, Any], recoding: dict[str, Any]) -> dict[str, Any]:
    out = {k: (dict(v) if isinstance(v, dict) else v) for k, v in data.items()}
    for path, value in recoding.items():
        group, _, name = path.partition(".")
        out.setdefault(group, {})
        out[group] = {**out[group], name: value}
    return out


def assert_recording_robust(subject: UnderTest, data: dict[str, Any], recoding: dict[str, Any]) -> None:
    """A suspected bone stress injury that bone signs put in the top three stays there however the onset is recorded.

    Only another alarm hypothesis (an avulsion, a fracture) may take its place;
    a BSI that imaging argues against (``safety.bone_ruled_out``: none on the
    MRI, or the injury in another bone) is not a suspected one.
    """
    _, inference, before = subject.infer(data)
    name = subject.kb.safety.bone_sign
    if not name or not inference.derived_values(name):
        return
    top3 = [h["id"] for h in before["hypotheses"][:3]]
    # A suspected one: possible or likely, and not ruled out by imaging.
    alarms = [h["id"] for h in before["hypotheses"][:3]
              if h["id"] in subject.kb.safety.bone_stress_injuries and h["band"] in BSI_ALARM_BANDS
              and not ruled_out_by_imaging(subject.kb, inference, h["id"])]
    if not alarms:
        return
    recoded = recode(data, recoding)
    _, after_inference, after = subject.infer(recoded)
    if not after_inference.derived_values(name):
        return  # the recoding took the bone signs away: not the same findings
    ranked = [h["id"] for h in after["hypotheses"]]
    now = ranked[:3]
    alarm = set(subject.kb.safety.alarm_hypotheses)

    def pushed_out(hid: str) -> bool:
        # Crowded out by other alarm hypotheses is still safe; it is hidden
        # when three that are not alarms rank above it.
        above = ranked[:ranked.index(hid)] if hid in ranked else ranked
        return hid not in now and len([h for h in above if h not in alarm]) >= 3

    lost = [hid for hid in alarms if pushed_out(hid)]
    if lost:
        what = ", ".join(f"{k}={v}" for k, v in recoding.items())
        fail(f"recording robustness: recording {what} pushed {', '.join(lost)} out of the top three", data,
              [f"top three before: {', '.join(top3)}", f"top three after: {', '.join(now)}"],
              functools.partial(_fails_with, assert_recording_robust, subject, recoding),
              functools.partial(_check_with, assert_recording_robust, subject, recoding))


def ruled_out_by_imaging(kb: KnowledgeBase, inference: Inference, hypothesis: str) -> bool:
    """Whether evidence against *hypothesis* comes from a rule reading imaging (``safety.bone_ruled_out``)."""
    score = inference.scores.get(hypothesis)
    imaging = set(kb.safety.bone_ruled_out)
    for item in score.evidence if score else ():
        rule = kb.rule(item.rule)
        if item.cf < 0 and rule is not None and any(
                c.kind == cond.DERIVED and c.subject in imaging for c in rule.conditions):
            return True
    return False


def benign_case(pattern: BenignPattern, extra: Iterable[str]) -> dict[str, Any]:
    """The case of a benign pattern with the named optional findings added."""
    findings = {**pattern.findings, **{path: pattern.optional[path] for path in extra}}
    data: dict[str, Any] = {}
    for path, value in findings.items():
        group, _, name = path.partition(".")
        data.setdefault(group, {})[name] = value
    return data


def assert_benign(subject: UnderTest, pattern: BenignPattern, extra: Iterable[str]) -> None:
    """A benign presentation, with any of its optional findings, is never triaged above its ceiling."""
    data = benign_case(pattern, extra)
    _, _, result = subject.infer(data)
    level = result["triage"]["level"]
    if triage_rank(level) < triage_rank(pattern.ceiling):
        fail(f"benign: {pattern.name} triaged {level}, above {pattern.ceiling}", data,
              [f"because {', '.join(result['triage']['because'])}"])
