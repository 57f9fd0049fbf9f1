"""The invariants of ruling out the worst first, checked without hypothesis.

knowledge.md section 8: a bone stress injury stays in view until recorded
findings exclude it, and risk the case records counts. Each check takes a
knowledge base under test (:class:`~hipkb.verify.invariants.UnderTest`) and one
case; what the knowledge base holds to be risk, a negative, positional night
pain or a warm-up is read from the ``safety`` section of its ``kb.yaml``, so a
researcher's variant is held to its own declarations:

- :func:`assert_risk_monotone`: adding a risk factor never lowers a bone stress
  injury's certainty, the triage or the restriction on running;
- :func:`assert_removal_never_excludes`: removing a recorded finding never
  turns an alarm hypothesis ``excluded`` (silence never excludes);
- :func:`assert_excluded_by_negatives`: a bone stress injury is ``excluded``
  only when its listed negatives are recorded (``safety.bsi_exclusion``);
- :func:`assert_positional_night_pain_benign`: positional night pain, in any
  region, never raises the night-pain red flag and is never a bone sign;
- :func:`assert_warm_up_keeps_alarm`: adding a warm-up beside a strong bone
  sign never lowers the triage or the running advice;
- :func:`assert_restricted_at_risk`: with a bone stress injury not excluded
  and moderate or high risk, running is never ``continue_as_tolerated`` and
  no loading test is suggested.

:mod:`hipkb.testing.properties` draws the cases with hypothesis; the
checks fail with a :class:`~hipkb.errors.PropertyFailure` that
:func:`~hipkb.verify.invariants.minimize` can cut down.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from hipkb.knowledge.kinds import Kind
from hipkb.knowledge.scales import running_rank, triage_rank
from hipkb.verify.invariants import (
    UnderTest,
    add_findings,
    check_failed,
    lowered_alarm,
    restriction_violations,
    ruled_out_by_imaging,
)

__all__ = [
    "assert_excluded_by_negatives",
    "assert_positional_night_pain_benign",
    "assert_removal_never_excludes",
    "assert_restricted_at_risk",
    "assert_risk_monotone",
    "assert_warm_up_keeps_alarm",
    "excluding_negatives_recorded",
    "risk_findings",
]


# --------------------------------------------------------------------------
# what the knowledge base calls risk


def risk_findings(subject: UnderTest) -> list[dict[str, Any]]:
    """Single findings (with what they need) that conclude the risk fact (``safety.risk_fact``), or add points to it."""
    from hipkb.verify.logic import value_for

    name = subject.kb.safety.risk_fact
    if not name:
        return []
    found: list[dict[str, Any]] = []
    expander = subject._expander
    for rule in subject.kb.rules:
        if rule.conclusion.kind is not Kind.DERIVE or rule.conclusion.target != name:
            continue
        for alternative in expander.rule(rule) or []:
            flat = {c.subject: value_for(subject.kb.vocabulary.fields[c.subject], [c])
                    for c in alternative if c.op != "unless"}
            if flat and all(v is not None for v in flat.values()) and flat not in found:
                found.append(flat)
    return found


def assert_risk_monotone(subject: UnderTest, data: dict[str, Any], risk: dict[str, Any]) -> None:
    """Adding a risk factor never lowers a bone stress injury's certainty, the triage or the running restriction."""
    more = add_findings(data, risk, subject)
    if more is None:
        return  # the case already says otherwise: a change, not an addition
    before, after = subject.infer(data)[2], subject.infer(more)[2]
    problems = lowered_alarm(subject, before, after)
    if problems:
        added = ", ".join(f"{k}={v}" for k, v in risk.items())
        check_failed(assert_risk_monotone, subject, f"risk monotonicity: adding {added} lowered the care taken",
                     data, problems, risk)


# --------------------------------------------------------------------------
# silence never excludes


def _excluded(result: dict[str, Any]) -> set[str]:
    """The alarm hypotheses whose settled status is ``excluded``."""
    return {e["id"] for e in result.get("exclusions", []) if e["status"] == "excluded"}


def _exclusion_votes(result: dict[str, Any]) -> set[str]:
    """The alarm hypotheses some rule voted ``excluded`` for (whatever status they settled on)."""
    return {f["asserted"][len("status."):].partition("=")[0] for f in result["fired"]
            if f["asserted"].startswith("status.") and f["asserted"].endswith("=excluded")}


def _without(data: dict[str, Any], path: str) -> dict[str, Any]:
    group, _, name = path.partition(".")
    out = {k: (dict(v) if isinstance(v, dict) else v) for k, v in data.items()}
    found = out.get(group)
    if isinstance(found, dict) and name in found:
        del found[name]
        if not found:
            del out[group]
    return out


def _recorded(subject: UnderTest, data: dict[str, Any]) -> list[str]:
    case = subject.case(data)
    return [path for path, _ in case.facts() if not subject.kb.vocabulary.fields[path].required]


def assert_removal_never_excludes(subject: UnderTest, data: dict[str, Any]) -> None:
    """Removing any one recorded finding never turns an alarm hypothesis ``excluded``.

    What excludes one is recorded findings or imaging, never their absence:
    with one finding fewer, no rule may vote an alarm hypothesis ``excluded``
    that none voted so before. (A suspicion outweighs an exclusion; removing
    the finding behind a suspicion can let an exclusion that was already
    there show, which is not silence excluding.)
    """
    before = _exclusion_votes(subject.infer(data)[2])
    for path in _recorded(subject, data):
        after = _exclusion_votes(subject.infer(_without(data, path))[2])
        newly = sorted(after - before)
        if newly:
            check_failed(assert_removal_never_excludes, subject,
                         f"silence never excludes: removing {path} made {', '.join(newly)} excluded", data,
                         [f"voted excluded before: {', '.join(sorted(before)) or 'none'}",
                          f"voted excluded without {path}: {', '.join(sorted(after))}"])


# --------------------------------------------------------------------------
# excluded only by the listed negatives


def _holds(case_value: Any, wanted: Any) -> bool:
    if case_value is None:
        return False
    if isinstance(case_value, tuple):
        items = wanted if isinstance(wanted, list) else [wanted]
        return all(item in case_value for item in items)
    return case_value == wanted


def excluding_negatives_recorded(subject: UnderTest, data: dict[str, Any]) -> bool:
    """Whether the case records the negatives that may exclude a bone stress injury (``safety.bsi_exclusion``)."""
    safety = subject.kb.safety
    case = subject.case(data)
    if any(all(_holds(case.get(p), v) for p, v in item.items()) for item in safety.bsi_exclusion_imaging):
        return True
    clinical = safety.bsi_exclusion_clinical
    return bool(clinical) and all(any(_holds(case.get(p), v) for p, v in group.items()) for group in clinical)


def assert_excluded_by_negatives(subject: UnderTest, data: dict[str, Any]) -> None:
    """A bone stress injury is ``excluded`` only when its listed negatives are recorded."""
    safety = subject.kb.safety
    if not (safety.bsi_exclusion_clinical or safety.bsi_exclusion_imaging):
        return
    excluded = sorted(_excluded(subject.infer(data)[2]) & set(safety.bone_stress_injuries))
    if excluded and not excluding_negatives_recorded(subject, data):
        check_failed(assert_excluded_by_negatives, subject,
                     f"exclusion: {', '.join(excluded)} excluded without the negatives that exclude it recorded", data,
                     ["needs: " + "; ".join(" or ".join(f"{p}={v}" for p, v in g.items())
                                            for g in safety.bsi_exclusion_clinical) + " (or a negative MRI)"])


# --------------------------------------------------------------------------
# positional night pain is the tendon's


def _night_pain_paths(subject: UnderTest) -> list[str]:
    return sorted(subject.kb.safety.positional_night_pain)


def assert_positional_night_pain_benign(subject: UnderTest, data: dict[str, Any]) -> None:
    """Recording positional night pain raises no night-pain red flag and no bone sign that its absence does not."""
    safety = subject.kb.safety
    if not safety.positional_night_pain:
        return
    bare = data
    for path in _night_pain_paths(subject):
        bare = _without(bare, path)
    positional = add_findings(bare, dict(safety.positional_night_pain), subject)
    if positional is None:
        return
    _, plain_inf, plain = subject.infer(bare)
    _, night_inf, night = subject.infer(positional)
    problems = []
    flag = safety.night_pain_flag
    flags = {f["id"] for f in night["red_flags"]} - {f["id"] for f in plain["red_flags"]}
    if flag and flag in flags:
        problems.append(f"positional night pain raised the red flag {flag}")
    sign = safety.bone_sign
    if sign:
        new = set(night_inf.derived_values(sign)) - set(plain_inf.derived_values(sign))
        if new:
            problems.append(f"positional night pain made the bone sign {', '.join(sorted(new))}")
    if problems:
        check_failed(assert_positional_night_pain_benign, subject,
                     "positional night pain: it is the tendon's, never a bone sign or a red flag", data, problems)


# --------------------------------------------------------------------------
# a warm-up never clears bone


def assert_warm_up_keeps_alarm(subject: UnderTest, data: dict[str, Any]) -> None:
    """Adding a warm-up to a case with a strong bone sign never lowers its triage or running advice."""
    safety = subject.kb.safety
    if not safety.warm_up or not safety.bone_sign:
        return
    _, inference, before = subject.infer(data)
    if not inference.derived_values(safety.bone_sign):
        return
    # Imaging that rules a bone stress injury out decides, not the history: what
    # a bone sign calls for beside a clear MRI is the other properties' business.
    if any(ruled_out_by_imaging(subject.kb, inference, h) for h in safety.bone_stress_injuries):
        return
    more = add_findings(data, dict(safety.warm_up), subject)
    if more is None:
        return
    after = subject.infer(more)[2]
    problems = []
    if triage_rank(after["triage"]["level"]) > triage_rank(before["triage"]["level"]):
        problems.append(f"triage {before['triage']['level']} -> {after['triage']['level']}")
    if running_rank(after["running"]["advice"]) > running_rank(before["running"]["advice"]):
        problems.append(f"running {before['running']['advice']} -> {after['running']['advice']}")
    if problems:
        check_failed(assert_warm_up_keeps_alarm, subject,
                     "warm-up: recording that the pain warms up lowered what a strong bone sign calls for", data,
                     problems)


# --------------------------------------------------------------------------
# not excluded, at risk: no running as tolerated, no loading test


def assert_restricted_at_risk(subject: UnderTest, data: dict[str, Any]) -> None:
    """With a bone stress injury not excluded and moderate or high risk: no running as tolerated, no loading test."""
    _, inference, result = subject.infer(data)
    problems = restriction_violations(subject.kb, inference, result)
    if problems:
        check_failed(assert_restricted_at_risk, subject,
                     "rule out the worst first: a bone stress injury not excluded at risk, but not restricted", data,
                     problems)


def with_findings(subject: UnderTest, data: dict[str, Any], findings: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """*data* with each of *findings* added where it adds (a change is skipped)."""
    for item in findings:
        data = add_findings(data, item, subject) or data
    return data
