"""Tests written for knowledge that `hipkb check --mutants` found untested on the shipped base.

Each test here kills a mutant that survived every example case, expectation
and property check (and the rest of this suite): the test holds on the rule
base as it is, and a second test shows it fails once the knowledge is taken
away. The knowledge is found by what it says (its conditions and conclusion),
not by rule id, so the tests follow the rule base as it is edited.
"""

from __future__ import annotations

import pytest

from hipkb import api
from hipkb.knowledge.kinds import Kind
from hipkb.verify import mutants as mu

ALARM = ("possible", "likely")


def _femoral_neck_band(kb, region: str) -> str | None:
    result = api.run_data({"pain": {"regions": [region]}, "systemic": {"unable_to_bear_weight": "yes"}}, kb)
    return next((h["band"] for h in result["hypotheses"] if h["id"] == "femoral_neck_bsi"), None)


def _weight_bearing_evidence(kb) -> list[str]:
    """The rules that count being unable to bear weight (a strong bone sign) for a femoral neck BSI."""
    return [r.id for r in kb.rules if r.conclusion.kind is Kind.SUPPORTS and r.conclusion.target == "femoral_neck_bsi"
            and any(c.subject == kb.safety.bone_sign and "weight_bearing" in c.values for c in r.conditions)]


# Mutant `drop-rule:FNBSI-CANNOT-BEAR-WEIGHT` survived: three examples changed (cannot-bear-weight,
# fall-on-the-hip, septic-hip-adult), yet each kept its expectations (other signs, the fracture red flag),
# and no test said that being unable to bear weight is, on its own, a strong bone sign.
@pytest.mark.parametrize("region", ["groin", "lateral_hip", "anterior_thigh"])
def test_unable_to_bear_weight_alone_makes_a_femoral_neck_bsi_possible(kb, region):
    # knowledge.md §7 and femoral-neck-bsi.yaml: any one strong bone sign in groin, lateral hip or
    # front-of-thigh pain makes a femoral neck bone stress injury possible.
    assert _femoral_neck_band(kb, region) in ALARM


def test_the_test_above_kills_the_mutant_that_survived(kb):
    rules = _weight_bearing_evidence(kb)
    assert rules
    mutant = kb
    for rule_id in rules:
        mutant = mu.mutate(mutant, mu.Mutation("drop-rule", rule_id))
    assert all(_femoral_neck_band(mutant, region) not in ALARM for region in ("groin", "lateral_hip", "anterior_thigh"))
