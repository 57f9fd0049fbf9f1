"""Tests written for knowledge that `hipkb check --mutants` found untested on the shipped base.

The mutant named with each test survived every example case, expectation and
property check of `hipkb check --mutants`, and the rest of this suite too
(the whole suite was run on a copy of the project with the mutant in place:
it passed). The
tests hold on the rule base as it is, and a second test shows they fail once
the knowledge is changed. The knowledge is found by what it says (its
conditions and conclusion), not by rule id, so the tests follow the rule base
as it is edited.
"""

from __future__ import annotations

import pytest

from hipkb import api
from hipkb.knowledge.kinds import Kind
from hipkb.verify import mutants as mu

GMED = "gluteus_medius_tendinopathy"
STAIRS = {"behaviour": {"stairs": "painful"}}


def _certainty(kb, data: dict, hypothesis: str = GMED) -> float:
    result = api.run_data(data, kb)
    return next((h["certainty"] for h in result["hypotheses"] if h["id"] == hypothesis), 0.0)


def _stairs_evidence(kb) -> list[str]:
    """The rules that count pain on stairs for gluteus medius tendinopathy."""
    return [r.id for r in kb.rules if r.conclusion.kind is Kind.SUPPORTS and r.conclusion.target == GMED
            and any(c.subject == "behaviour.stairs" for c in r.conditions)]


# Mutant `drop-rule:GMED-STAIRS` survived (and, under check --mutants, its flipped weight, its dropped
# conditions and its swapped values): two examples changed (gluteal-night-positional, gluteal-walking-pain),
# each kept its expectations, and nothing said that pain on stairs is a gluteal tendon sign (Grimaldi et al.,
# BJSM 2017).
LATERAL_CASES = {
    "lateral": {"pain": {"regions": ["lateral_hip"]}},
    "lateral-tender": {"pain": {"regions": ["lateral_hip"]}, "exam": {"trochanter_palpation": "painful"}},
    "lateral-and-groin": {"pain": {"regions": ["lateral_hip", "groin"]}},
}


@pytest.mark.parametrize("findings", LATERAL_CASES.values(), ids=LATERAL_CASES.keys())
def test_lateral_hip_pain_on_stairs_counts_for_gluteal_tendinopathy(kb, findings):
    assert _certainty(kb, {**findings, **STAIRS}) > _certainty(kb, findings)


def test_stairs_pain_without_lateral_hip_pain_is_no_gluteal_sign(kb):
    # Groin pain on stairs is the iliopsoas's sign (hip flexion under load), not the gluteal tendon's.
    groin = {"pain": {"regions": ["groin"]}}
    assert _certainty(kb, {**groin, **STAIRS}) == _certainty(kb, groin)


def test_the_tests_above_kill_the_mutants_that_survived(kb):
    rules = _stairs_evidence(kb)
    assert rules
    lateral, groin = {"pain": {"regions": ["lateral_hip"]}}, {"pain": {"regions": ["groin"]}}
    mutants = [m for m in mu.mutations(kb) if m.rule in rules]
    # Every change to that knowledge is noticed: dropped, flipped, a condition dropped, a value swapped.
    assert {m.operator for m in mutants} == {"drop-rule", "flip-weight", "drop-condition", "swap-value"}
    missed = []
    for m in mutants:
        mutant = mu.mutate(kb, m)
        if _certainty(mutant, {**lateral, **STAIRS}) > _certainty(mutant, lateral) and \
                _certainty(mutant, {**groin, **STAIRS}) == _certainty(mutant, groin):
            missed.append(m.key)
    assert missed == []
