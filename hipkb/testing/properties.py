"""Ready-made property checks of a knowledge base, for a researcher's own pytest.

Each ``check_*`` function takes a rule directory (and optionally a facts
directory; the shipped ones by default), draws cases with
:mod:`hipkb.testing.strategies` under hypothesis, and raises
:class:`AssertionError` with the offending case, as a case file, when a
property fails. hypothesis shrinks the case first, so the case shown is a
small one::

    from hipkb.testing import properties

    def test_my_rules_are_safe():
        properties.check_safety("my-rules")

The properties:

- :func:`check_determinism`: the same case twice, with its keys and list items
  shuffled, or after another case, gives byte-identical JSON;
- :func:`check_order_independence`: declaring the case's fact groups in any
  order gives the same result;
- :func:`check_termination`: every case settles within the firing bound;
- :func:`check_traceability`: every derived fact, red flag and hypothesis
  band rests, through its justifications, on the case's own findings, with no
  dangling or circular support, and every fired rule's conditions hold;
- :func:`check_monotonicity`: adding a red-flag finding or a bone-type
  finding never lowers triage;
- :func:`check_safety`: the safety invariants (a bone stress injury at
  ``possible`` or above means running ``stop`` and triage at least
  ``urgent``, and no question about hopping; any red flag means triage at
  least ``urgent``, an emergency red flag ``emergency``);
- :func:`check_consistent_advice`: no result gives advice that contradicts
  itself (keep running with urgent triage, self-care with a red flag ...);
- rule out the worst first (knowledge.md section 8, :mod:`hipkb.verify.worst_first`):
  :func:`check_risk_monotonicity` (adding a risk factor never lowers a bone
  stress injury's certainty, the triage or the running restriction),
  :func:`check_silence_never_excludes` (removing a finding never makes an
  alarm hypothesis excluded), :func:`check_exclusion_by_negatives` (a bone
  stress injury is excluded only when its listed negatives are recorded),
  :func:`check_positional_night_pain` (never a bone sign nor a red flag, in
  any region), :func:`check_warm_up_keeps_alarm` (a warm-up never lowers what
  a strong bone sign calls for) and :func:`check_restricted_at_risk` (a bone
  stress injury not excluded at moderate or high risk: never running as
  tolerated, never a loading test).

:func:`check_all` runs them all; :func:`make_tests` turns them into pytest
test functions. The per-result invariants (:func:`invariant_violations`) are
also what ``hipkb check --exhaustive`` checks on every combination.

Examples per check follow hypothesis's current settings profile (100 by
default); pass ``max_examples`` or ``settings`` to change them.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

try:
    from hypothesis import HealthCheck, Phase, given
    from hypothesis import settings as Settings
    from hypothesis import strategies as st
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError("hipkb.testing.properties needs hypothesis: pip install 'hipkb[test]'") from exc

from hipkb.knowledge.index import index
from hipkb.knowledge.kinds import Kind
from hipkb.testing import strategies as hs
from hipkb.verify.invariants import (
    PropertyFailure,
    UnderTest,
    Violation,
    add_findings,
    assert_benign,
    assert_bone_sign_monotone,
    assert_consistent_advice,
    assert_deterministic,
    assert_monotone,
    assert_order_independent,
    assert_recording_robust,
    assert_safe,
    assert_terminates,
    assert_traceable,
    case_yaml,
    invariant_violations,
    load,
    minimize,
    subject_of,
)
from hipkb.verify.worst_first import (
    assert_excluded_by_negatives,
    assert_positional_night_pain_benign,
    assert_removal_never_excludes,
    assert_restricted_at_risk,
    assert_risk_monotone,
    assert_warm_up_keeps_alarm,
    risk_findings,
    with_findings,
)

__all__ = [
    "CHECKS",
    "UnderTest",
    "Violation",
    "case_yaml",
    "check_all",
    "check_benign_patterns",
    "check_bone_sign_monotonicity",
    "check_consistent_advice",
    "check_determinism",
    "check_exclusion_by_negatives",
    "check_monotonicity",
    "check_order_independence",
    "check_positional_night_pain",
    "check_recording_robustness",
    "check_restricted_at_risk",
    "check_risk_monotonicity",
    "check_safety",
    "check_silence_never_excludes",
    "check_termination",
    "check_traceability",
    "check_warm_up_keeps_alarm",
    "invariant_violations",
    "load",
    "make_tests",
]

# --------------------------------------------------------------------------
# hypothesis-driven checks over a rule directory


@functools.cache
def _alarm_cases(subject: UnderTest) -> Any:
    """Cases of which half lean towards an alarm hypothesis (a bone stress injury, a fracture ...)."""
    alarms = [h for h in subject.kb.safety.alarm_hypotheses if h in subject.kb.hypotheses]
    if not alarms:
        return _cases(subject)
    return st.one_of(_cases(subject), st.one_of([hs.cases(subject.kb, lean_towards=h) for h in alarms]))


@functools.cache
def _cases(subject: UnderTest) -> Any:
    """Cases drawn freely, leaning towards each hypothesis, and raising each red flag."""
    kb = subject.kb
    leans = sorted({r.conclusion.target for r in index(kb).by_kind.get(Kind.SUPPORTS, ())})
    options = [hs.cases(kb)] + [hs.cases(kb, lean_towards=h) for h in leans]
    options += [hs.cases(kb, fixed=pins) for pins in subject.red_flag_findings]
    return st.one_of(options)


def _settings(max_examples: int | None, settings: Settings | None, shrink: bool = True) -> Settings:
    if settings is not None:
        return settings
    # Start from the profile in force (a researcher's, or the default) and
    # only lift the per-example deadline: several inferences per example on a
    # loaded CI machine are not a bug.
    base = Settings()
    phases = base.phases
    if not shrink:
        # The check cuts its counterexample down itself (see minimize), in a
        # few dozen runs; hypothesis's own shrinking of a whole case can take
        # thousands, for a case no smaller.
        phases = tuple(p for p in phases if p is not Phase.shrink)
    return Settings(base, deadline=None, max_examples=max_examples or base.max_examples, phases=phases,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.filter_too_much])


def _run(name: str, subject: UnderTest, body: Callable[[Any], None], max_examples: int | None,
         settings: Settings | None, *, minimizes: bool = True,
         first: Iterable[Callable[[], None]] = ()) -> None:
    """Run *body* on drawn cases, after the fixed checks *first* (hypothesis's explicit examples, for checks
    whose examples come from the knowledge base, not from a decorator); cut a failure's case down."""

    @_settings(max_examples, settings, shrink=not minimizes)
    @given(st.data())
    def prop(data: Any) -> None:
        body(data)

    try:
        for check in first:
            check()
        prop()
    except PropertyFailure as failure:
        if failure.still_fails is None:
            raise
        smaller = minimize(subject, failure.case, failure.still_fails)
        if failure.recheck is None:
            raise
        # State the problem afresh for the smallest case: its details may differ.
        try:
            failure.recheck(smaller)
        except PropertyFailure as restated:
            raise PropertyFailure(restated.title, smaller, [
                *restated.details,
                "minimal: removing any one more finding or list item makes this failure go away",
            ]) from None
        raise


def check_determinism(rules_dir: str | Path | UnderTest | None = None, facts_dir: str | Path | None = None, *,
                      max_examples: int | None = None, settings: Settings | None = None) -> None:
    """The same case gives identical JSON: twice, shuffled, and after another case."""
    subject = subject_of(rules_dir, facts_dir)

    def body(data: Any) -> None:
        case = data.draw(_cases(subject), label="case")
        rnd = data.draw(st.randoms(use_true_random=False), label="shuffle")
        other = data.draw(_cases(subject), label="other case")
        assert_deterministic(subject, case, rnd, other)

    _run("check_determinism", subject, body, max_examples, settings, minimizes=False)


def check_order_independence(rules_dir: str | Path | UnderTest | None = None, facts_dir: str | Path | None = None,
                             *, max_examples: int | None = None, settings: Settings | None = None) -> None:
    """Declaring the case's fact groups in any order gives the same result."""
    subject = subject_of(rules_dir, facts_dir)

    def body(data: Any) -> None:
        case = data.draw(_cases(subject), label="case")
        count = len(subject.reasoner.case_facts(subject.case(case)))
        order = data.draw(st.permutations(range(count)), label="order")
        assert_order_independent(subject, case, list(order))

    _run("check_order_independence", subject, body, max_examples, settings, minimizes=False)


def check_termination(rules_dir: str | Path | UnderTest | None = None, facts_dir: str | Path | None = None, *,
                      max_examples: int | None = None, settings: Settings | None = None) -> None:
    """Every case settles within the engine's firing bound."""
    subject = subject_of(rules_dir, facts_dir)
    _run("check_termination", subject, lambda data: assert_terminates(subject, data.draw(_cases(subject), "case")),
         max_examples, settings, minimizes=False)


def check_traceability(rules_dir: str | Path | UnderTest | None = None, facts_dir: str | Path | None = None, *,
                       max_examples: int | None = None, settings: Settings | None = None) -> None:
    """Every conclusion traces back to the case's findings; every firing's conditions hold."""
    subject = subject_of(rules_dir, facts_dir)
    _run("check_traceability", subject, lambda data: assert_traceable(subject, data.draw(_cases(subject), "case")),
         max_examples, settings)


def check_monotonicity(rules_dir: str | Path | UnderTest | None = None, facts_dir: str | Path | None = None, *,
                       max_examples: int | None = None, settings: Settings | None = None) -> None:
    """Adding a red-flag finding or a bone-type finding never lowers triage."""
    subject = subject_of(rules_dir, facts_dir)
    candidates = subject.red_flag_findings + subject.bone_findings
    if not candidates:
        return  # nothing raises a red flag or supports a bone stress injury: nothing to add

    def body(data: Any) -> None:
        case = data.draw(_cases(subject), label="case")
        additions = data.draw(st.lists(st.sampled_from(candidates), min_size=1, max_size=4, unique_by=repr),
                              label="added findings")
        assert_monotone(subject, case, additions)

    _run("check_monotonicity", subject, body, max_examples, settings)


def check_safety(rules_dir: str | Path | UnderTest | None = None, facts_dir: str | Path | None = None, *,
                 max_examples: int | None = None, settings: Settings | None = None) -> None:
    """The safety invariants hold for every case (see the module's docstring).

    The cases the knowledge base's own rules give for each alarm hypothesis
    and red flag come first (:attr:`UnderTest.alarm_witnesses`,
    :attr:`UnderTest.red_flag_witnesses`), so a broken
    safety rule fails whatever the seed; then half the drawn cases lean
    towards an alarm hypothesis (``safety.alarm_hypotheses``).
    """
    subject = subject_of(rules_dir, facts_dir)
    witnesses = subject.alarm_witnesses + subject.red_flag_witnesses
    _run("check_safety", subject, lambda data: assert_safe(subject, data.draw(_alarm_cases(subject), "case")),
         max_examples, settings, first=[functools.partial(assert_safe, subject, case) for case in witnesses])


def check_consistent_advice(rules_dir: str | Path | UnderTest | None = None, facts_dir: str | Path | None = None, *,
                            max_examples: int | None = None, settings: Settings | None = None) -> None:
    """No result contradicts itself (advice vs triage vs red flags, precedence, questions)."""
    subject = subject_of(rules_dir, facts_dir)
    _run("check_consistent_advice", subject,
         lambda data: assert_consistent_advice(subject, data.draw(_cases(subject), "case")), max_examples, settings)


def check_bone_sign_monotonicity(rules_dir: str | Path | UnderTest | None = None, facts_dir: str | Path | None = None,
                                 *, max_examples: int | None = None, settings: Settings | None = None) -> None:
    """Adding a strong bone sign never lowers a bone stress injury's certainty, the triage or the running advice."""
    subject = subject_of(rules_dir, facts_dir)
    signs = subject.bone_sign_findings
    if not signs:
        return  # the knowledge base names no bone sign (safety.bone_sign)

    def body(data: Any) -> None:
        case = data.draw(_alarm_cases(subject), label="case")
        assert_bone_sign_monotone(subject, case, data.draw(st.sampled_from(signs), label="bone sign"))

    _run("check_bone_sign_monotonicity", subject, body, max_examples, settings)


def check_recording_robustness(rules_dir: str | Path | UnderTest | None = None, facts_dir: str | Path | None = None,
                               *, max_examples: int | None = None, settings: Settings | None = None) -> None:
    """Recoding the onset (``safety.neutral_recodings``) never pushes a BSI with bone signs out of the top three."""
    subject = subject_of(rules_dir, facts_dir)
    recodings = [dict(r) for r in subject.kb.safety.neutral_recodings]
    if not recodings or not subject.bone_sign_findings:
        return

    def body(data: Any) -> None:
        case = data.draw(_alarm_cases(subject), label="case")
        signs = data.draw(st.lists(st.sampled_from(subject.bone_sign_findings), min_size=1, max_size=2,
                                   unique_by=repr), label="bone signs")
        for sign in signs:
            case = add_findings(case, sign, subject) or case
        assert_recording_robust(subject, case, data.draw(st.sampled_from(recodings), label="recoding"))

    _run("check_recording_robustness", subject, body, max_examples, settings)


def check_benign_patterns(rules_dir: str | Path | UnderTest | None = None, facts_dir: str | Path | None = None, *,
                          max_examples: int | None = None, settings: Settings | None = None) -> None:
    """A benign presentation (``safety.benign``), with any of its optional findings, stays under its triage ceiling."""
    subject = subject_of(rules_dir, facts_dir)
    patterns = list(subject.kb.safety.benign)
    if not patterns:
        return

    def body(data: Any) -> None:
        pattern = data.draw(st.sampled_from(patterns), label="pattern")
        extra = data.draw(st.lists(st.sampled_from(sorted(pattern.optional)), unique=True), label="optional findings")
        assert_benign(subject, pattern, extra)

    _run("check_benign_patterns", subject, body, max_examples, settings, minimizes=False)


# --------------------------------------------------------------------------
# rule out the worst first (knowledge.md section 8)


@functools.cache
def _risks(subject: UnderTest) -> list[dict[str, Any]]:
    return risk_findings(subject)


@functools.cache
def _negatives(subject: UnderTest) -> list[dict[str, Any]]:
    """The clinical negatives of ``safety.bsi_exclusion``, one at a time, to draw cases close to an exclusion.

    Not the imaging ones: a negative MRI excludes by itself, so a case
    holding one can show no exclusion that is not allowed.
    """
    return [{path: value} for group in subject.kb.safety.bsi_exclusion_clinical for path, value in group.items()]


@functools.cache
def _sparse_cases(subject: UnderTest) -> Any:
    """Cases that say little, as real notes do: most fields unknown, or only the required ones known."""
    return st.one_of(hs.cases(subject.kb, unknown_weight=0.95), hs.cases(subject.kb, unknown_weight=1.0))


def _at_risk_cases(subject: UnderTest) -> Any:
    """Sparse cases with one or two risk factors added.

    Sparse: a case full of findings has a bone sign somewhere and stops
    running anyway, which hides a missing restriction.
    """
    risks = _risks(subject)

    @st.composite
    def draw(data: Any) -> dict[str, Any]:
        case = data(_sparse_cases(subject))
        if risks:
            case = with_findings(subject, case, data(st.lists(st.sampled_from(risks), min_size=1, max_size=2,
                                                              unique_by=repr)))
        return case

    return draw()


def _near_exclusion_cases(subject: UnderTest) -> Any:
    """Sparse cases with some of the negatives that exclude a bone stress injury.

    Sparse, as with risk: a case full of findings has some bone sign, and a
    suspicion outweighs any exclusion, which hides a wrong one.
    """
    negatives = _negatives(subject)

    @st.composite
    def draw(data: Any) -> dict[str, Any]:
        case = data(_sparse_cases(subject))
        if negatives:
            case = with_findings(subject, case, data(st.lists(st.sampled_from(negatives), unique_by=repr)))
        return case

    return draw()


def check_risk_monotonicity(rules_dir: str | Path | UnderTest | None = None, facts_dir: str | Path | None = None, *,
                            max_examples: int | None = None, settings: Settings | None = None) -> None:
    """Adding a bone stress risk factor never lowers a BSI's certainty, the triage or the running restriction."""
    subject = subject_of(rules_dir, facts_dir)
    risks = _risks(subject)
    if not risks:
        return  # the knowledge base names no risk fact (safety.risk_fact)

    def body(data: Any) -> None:
        # Every risk factor on each case drawn: each is one inference, and one
        # factor in twenty would otherwise be tried on a case that shows its bug.
        case = data.draw(st.one_of(_sparse_cases(subject), _cases(subject), _alarm_cases(subject)), label="case")
        for risk in risks:
            assert_risk_monotone(subject, case, risk)

    _run("check_risk_monotonicity", subject, body, max_examples, settings)


def check_silence_never_excludes(rules_dir: str | Path | UnderTest | None = None, facts_dir: str | Path | None = None,
                                 *, max_examples: int | None = None, settings: Settings | None = None) -> None:
    """Removing a recorded finding never turns an alarm hypothesis ``excluded``."""
    subject = subject_of(rules_dir, facts_dir)
    _run("check_silence_never_excludes", subject,
         lambda data: assert_removal_never_excludes(subject, data.draw(_near_exclusion_cases(subject), "case")),
         max_examples, settings)


def check_exclusion_by_negatives(rules_dir: str | Path | UnderTest | None = None, facts_dir: str | Path | None = None,
                                 *, max_examples: int | None = None, settings: Settings | None = None) -> None:
    """A bone stress injury is ``excluded`` only when its listed negatives (``safety.bsi_exclusion``) are recorded."""
    subject = subject_of(rules_dir, facts_dir)
    _run("check_exclusion_by_negatives", subject,
         lambda data: assert_excluded_by_negatives(subject, data.draw(_near_exclusion_cases(subject), "case")),
         max_examples, settings)


def check_positional_night_pain(rules_dir: str | Path | UnderTest | None = None, facts_dir: str | Path | None = None,
                                *, max_examples: int | None = None, settings: Settings | None = None) -> None:
    """Positional night pain, in any region, never raises the night-pain flag and is never a bone sign."""
    subject = subject_of(rules_dir, facts_dir)
    _run("check_positional_night_pain", subject,
         lambda data: assert_positional_night_pain_benign(subject, data.draw(_cases(subject), "case")),
         max_examples, settings)


def check_warm_up_keeps_alarm(rules_dir: str | Path | UnderTest | None = None, facts_dir: str | Path | None = None, *,
                              max_examples: int | None = None, settings: Settings | None = None) -> None:
    """Adding "warms up" never lowers the triage or running advice that a strong bone sign gives."""
    subject = subject_of(rules_dir, facts_dir)
    signs = subject.bone_sign_findings
    if not signs:
        return

    def body(data: Any) -> None:
        case = data.draw(_alarm_cases(subject), label="case")
        case = add_findings(case, data.draw(st.sampled_from(signs), label="bone sign"), subject) or case
        assert_warm_up_keeps_alarm(subject, case)

    _run("check_warm_up_keeps_alarm", subject, body, max_examples, settings)


def check_restricted_at_risk(rules_dir: str | Path | UnderTest | None = None, facts_dir: str | Path | None = None, *,
                             max_examples: int | None = None, settings: Settings | None = None) -> None:
    """With a BSI not excluded and moderate or high risk: never running as tolerated, never a loading test."""
    subject = subject_of(rules_dir, facts_dir)
    _run("check_restricted_at_risk", subject,
         lambda data: assert_restricted_at_risk(subject, data.draw(_at_risk_cases(subject), "case")),
         max_examples, settings)


#: Every property check, in the order :func:`check_all` runs them.
CHECKS: tuple[Callable[..., None], ...] = (
    check_termination,
    check_determinism,
    check_order_independence,
    check_traceability,
    check_safety,
    check_consistent_advice,
    check_monotonicity,
    check_bone_sign_monotonicity,
    check_recording_robustness,
    check_benign_patterns,
    check_risk_monotonicity,
    check_silence_never_excludes,
    check_exclusion_by_negatives,
    check_positional_night_pain,
    check_warm_up_keeps_alarm,
    check_restricted_at_risk,
)


def check_all(rules_dir: str | Path | None = None, facts_dir: str | Path | None = None, *,
              max_examples: int | None = None, settings: Settings | None = None) -> None:
    """Run every check; raise one AssertionError listing each that failed, with its shrunk case."""
    subject = load(rules_dir, facts_dir)
    failures = []
    for check in CHECKS:
        try:
            check(subject, max_examples=max_examples, settings=settings)
        except AssertionError as error:
            failures.append(f"{check.__name__}: {error}")
    if failures:
        raise AssertionError(f"{len(failures)} of {len(CHECKS)} property checks failed\n\n" + "\n\n".join(failures))


def make_tests(rules_dir: str | Path | None = None, facts_dir: str | Path | None = None, *,
               max_examples: int | None = None) -> dict[str, Callable[[], None]]:
    """pytest test functions, one per check: ``globals().update(make_tests("my-rules"))``.

    The knowledge base is loaded when a test runs, not at import, so a broken
    rule file fails the tests rather than their collection.
    """
    def make(check: Callable[..., None]) -> Callable[[], None]:
        def test() -> None:
            check(rules_dir, facts_dir, max_examples=max_examples)

        test.__name__ = test.__qualname__ = "test_" + check.__name__.removeprefix("check_")
        test.__doc__ = check.__doc__
        return test

    return {test.__name__: test for test in map(make, CHECKS)}

