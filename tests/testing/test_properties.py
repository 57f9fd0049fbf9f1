"""hipkb.testing.properties: the checks pass on the shipped rules and catch broken ones, with minimal cases."""

from __future__ import annotations

import random
import shutil
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, Phase, settings
from paths import ROOT

from hipkb import api
from hipkb.engine.record import Justification
from hipkb.errors import HipkbError
from hipkb.knowledge.rules import DATA_FILES
from hipkb.testing import properties as props
from hipkb.verify import invariants

BROKEN = ROOT / "tests" / "broken_kbs"


@pytest.fixture(scope="module")
def shipped():
    return props.load()


#: Checks whose every example runs the engine many times (each risk factor on
#: each case): the thorough lane runs them in full, the quick lane on fewer cases.
_SLOW_CHECKS = {"check_risk_monotonicity"}


@pytest.mark.parametrize("check", [pytest.param(c, marks=pytest.mark.thorough) if c.__name__ in _SLOW_CHECKS else c
                                   for c in props.CHECKS], ids=lambda c: c.__name__)
def test_property_holds_on_the_shipped_rules(check, shipped):
    # The examples per check follow the hypothesis profile in force:
    # HIPKB_HYPOTHESIS_PROFILE=thorough for ten times as many.
    check(shipped)


@pytest.mark.parametrize("name", sorted(_SLOW_CHECKS))
def test_slow_property_holds_on_a_few_cases_of_the_shipped_rules(name, shipped):
    getattr(props, name)(shipped, max_examples=20)


def _break_bsi_triage(rules: Path) -> list[str]:
    """Turn every urgent triage rule that reads a bone stress injury into routine; return their ids."""
    changed = []
    for path in sorted(rules.glob("*.yaml")):
        if path.name in DATA_FILES:
            continue
        data = yaml.safe_load(path.read_text())
        for rule in data["rules"]:
            when = rule.get("when") or {}
            reads_bsi = any(str(k).startswith("hypothesis.") and str(k).endswith("_bsi") for k in when)
            if reads_bsi and rule["then"].get("triage") in ("urgent", "emergency"):
                rule["then"]["triage"] = "routine"
                changed.append(rule["id"])
        path.write_text(yaml.safe_dump(data, sort_keys=False))
    return changed


def test_readme_scenario_a_broken_safety_invariant_fails_with_a_minimal_case(tmp_path, rules_dir, kb):
    # A researcher copies rules/ and changes the BSI triage rule to routine.
    mine = tmp_path / "my-rules"
    shutil.copytree(rules_dir, mine)
    assert _break_bsi_triage(mine), "the shipped rules have no triage rule on a bone stress injury"
    with pytest.raises(AssertionError) as failure:
        props.check_safety(mine, settings=settings(
            # As the default settings of the checks, made repeatable: no
            # hypothesis shrinking, the check cuts the case down itself.
            max_examples=300, database=None, deadline=None, derandomize=True,
            phases=[Phase.explicit, Phase.generate]))
    message = str(failure.value)
    assert message.startswith("safety:")
    assert "bsi" in message and "triage is routine" in message
    assert "minimal" in message
    case = yaml.safe_load(message.split("case:\n", 1)[1])
    # The counterexample is a valid case file that shows the problem under the broken rules...
    broken = api.load_kb(mine)
    result = api.run_data(case, broken)
    assert any(h["id"].endswith("_bsi") and h["band"] in ("possible", "likely") for h in result["hypotheses"])
    assert result["triage"]["level"] == "routine"
    # ...and it is small: a handful of findings, not a whole random case.
    findings = sum(len(v) for k, v in case.items() if isinstance(v, dict))
    assert findings <= 6, case
    # The shipped rules are right about the same case.
    assert api.run_data(case, kb)["triage"]["level"] in ("urgent", "emergency")


def test_a_broken_alarm_triage_fails_the_safety_check_whatever_the_draw(tmp_path, rules_dir):
    # The knowledge base's own witnesses of each alarm come before any drawn
    # case: no seed, profile (hypothesis's "ci" one derandomizes) or budget
    # lets the planted bug through, not even a search of one example.
    mine = tmp_path / "my-rules"
    shutil.copytree(rules_dir, mine)
    _break_bsi_triage(mine)
    for seed in (0, 1):
        with pytest.raises(AssertionError, match="triage is routine"):
            props.check_safety(mine, settings=settings(max_examples=1, database=None, deadline=None,
                                                       derandomize=bool(seed), phases=[Phase.generate]))


def test_every_alarm_and_red_flag_has_a_witness_case_that_raises_it(kb):
    subject = invariants.UnderTest(kb)
    assert subject.alarm_witnesses and subject.red_flag_witnesses
    for case in subject.alarm_witnesses:
        result = subject.infer(case)[2]
        assert {h["id"] for h in result["hypotheses"]} & set(kb.safety.alarm_hypotheses), case
    for case in subject.red_flag_witnesses:
        assert subject.infer(case)[2]["red_flags"], case


def test_check_all_lists_every_failing_check(tmp_path):
    # Keep running with a fever: contradicts the red flag and the urgent triage.
    with pytest.raises(AssertionError) as failure:
        props.check_all(BROKEN / "unsafe_advice", max_examples=60)
    message = str(failure.value)
    assert "check_consistent_advice" in message
    assert "continue_as_tolerated" in message
    assert "check_determinism" not in message


def test_make_tests_gives_named_pytest_functions():
    tests = props.make_tests(BROKEN / "unsafe_advice", max_examples=5)
    assert set(tests) == {"test_" + c.__name__.removeprefix("check_") for c in props.CHECKS}
    tests["test_termination"]()
    with pytest.raises(AssertionError):
        props.make_tests(BROKEN / "unsafe_advice", max_examples=50)["test_consistent_advice"]()


def test_shuffled_keeps_the_case():
    case = {"pain": {"regions": ["groin", "buttock", "lateral_hip"], "depth": "deep"}, "case_id": "x",
            "behaviour": {"hopping": "painful"}}
    mixed = invariants.shuffled(case, random.Random(3))
    assert mixed == case
    assert sorted(mixed["pain"]["regions"]) == sorted(case["pain"]["regions"])


def test_order_of_fact_groups_does_not_matter(shipped):
    data = yaml.safe_load((Path(shipped.kb.facts_dir) / "cases").glob("*.yaml").__next__().read_text())
    case = shipped.case(data)
    count = len(shipped.reasoner.case_facts(case))
    invariants.assert_order_independent(shipped, data, list(reversed(range(count))))


def test_traceability_catches_dangling_and_circular_support(shipped):
    data = {"pain": {"regions": ["groin"]}, "behaviour": {"during_run": "worsens", "after_run": "lingers"}}
    _, inference, result = shipped.infer(data)
    assert invariants.trace_violations(shipped.kb, inference, result) == []
    derived = sorted(inference.derived)
    assert derived, "the case derives nothing; choose one that does"
    rule = inference.derived[derived[0]][0].rule
    # Dangling: a justification that cites a finding the case does not give.
    inference.derived["made_up=yes"] = [Justification(rule, ("behaviour.hopping=painful",))]
    codes = {v.code for v in invariants.trace_violations(shipped.kb, inference, result)}
    assert {"dangling", "ungrounded"} <= codes
    del inference.derived["made_up=yes"]
    # Circular: a derived fact whose only support is itself.
    inference.derived[derived[0]] = [Justification(rule, (derived[0],))]
    messages = [v.message for v in invariants.trace_violations(shipped.kb, inference, result)]
    assert any(derived[0] in m and "circular" in m for m in messages)


def test_safety_invariants_on_a_doctored_result(shipped):
    _, _, result = shipped.infer({"pain": {"regions": ["groin"]}, "systemic": {"unable_to_bear_weight": "yes"}})
    emergency = [f for f in result["red_flags"] if f["emergency"]]
    assert emergency and result["triage"]["level"] == "emergency"
    doctored = {**result, "triage": {**result["triage"], "level": "routine"},
                "running": {**result["running"], "advice": "continue_as_tolerated"}}
    codes = {v.code for v in invariants.safety_violations(shipped.kb, doctored)}
    assert {"red-flag-triage", "emergency-triage"} <= codes
    codes = {v.code for v in invariants.advice_violations(shipped.kb, doctored)}
    assert {"advice-run-red-flag", "advice-triage-precedence", "advice-running-precedence"} <= codes


def test_monotonicity_adds_only_unknown_findings(shipped):
    data = {"pain": {"regions": ["groin"]}, "systemic": {"fever": "no"}}
    assert invariants.add_findings(data, {"systemic.fever": "yes"}, shipped) is None
    more = invariants.add_findings(data, {"pain.regions": ["buttock"], "behaviour.hopping": "painful"}, shipped)
    assert more["pain"]["regions"] == ["groin", "buttock"] and more["behaviour"] == {"hopping": "painful"}
    assert shipped.red_flag_findings and shipped.bone_findings


def test_minimize_keeps_only_what_the_failure_needs(shipped):
    data = {"case_id": "big", "format": "hipkb-case/1",
            "pain": {"regions": ["groin", "buttock"], "depth": "deep"},
            "systemic": {"fever": "yes", "cancer_history": "no"}, "behaviour": {"trend": "stable"}}

    def has_fever_flag(d):
        return any(f["id"] == "possible_infection" for f in shipped.infer(d)[2]["red_flags"])

    assert has_fever_flag(data)
    smallest = invariants.minimize(shipped, data, has_fever_flag)
    assert smallest["systemic"] == {"fever": "yes"}
    assert set(smallest) == {"pain", "systemic"} and len(smallest["pain"]["regions"]) == 1


def test_the_ten_line_file_of_the_docs_fails_on_broken_rules(tmp_path, rules_dir):
    import subprocess
    import sys

    docs = (ROOT / "docs" / "research.md").read_text()
    code = docs.split("```python\n", 1)[1].split("```", 1)[0]
    assert len(code.splitlines()) == 10
    (tmp_path / "test_my_rules.py").write_text(code)
    shutil.copytree(rules_dir, tmp_path / "my-rules")
    _break_bsi_triage(tmp_path / "my-rules")
    # A fixed seed: the search for the planted bug is the same on every run (hypothesis draws at random).
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--hypothesis-seed=1",
                           "test_my_rules.py",
                           "-k", "check_safety or check_termination"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "1 failed, 1 passed" in proc.stdout
    assert "triage is routine" in proc.stdout and "case:" in proc.stdout


# -- recording robustness (issue 9): the checks catch rule sets that break it --------------------

# The same search on every run: these tests plant a bug and require the check to find it.
_REPEATABLE = settings(max_examples=300, database=None, deadline=None, derandomize=True,
                       suppress_health_check=list(HealthCheck))

def _with_rule(tmp_path: Path, rules_dir: Path, *planted: dict) -> Path:
    rules = tmp_path / "rules"
    shutil.copytree(rules_dir, rules)
    entries = [{"title": "planted", "source": "test", **rule} for rule in planted]
    (rules / "zz-broken.yaml").write_text(yaml.safe_dump({"rules": entries}))
    return rules


_LIMP_AGAINST_BONE = tuple(
    {"id": f"PLANTED-LIMP-AGAINST-{n}", "when": {"behaviour.limp": "yes"}, "then": {"against": bsi, "weight": 0.95}}
    for n, bsi in enumerate(("femoral_neck_bsi", "pelvic_bsi", "femoral_shaft_bsi")))
_SUDDEN_AGAINST_BONE = {"id": "PLANTED-SUDDEN-AGAINST", "when": {"history.onset": "sudden"},
                        "then": {"against": "femoral_neck_bsi", "weight": 0.95}}
# The known counterexamples of the two planted bugs (the shipped examples
# bsi-fn-groin-sparse and bsi-fn-lateral-night): the quick lane checks the
# invariant on them; the thorough lane has the property's own search find one.
_GROIN_SPARSE = {"runner": {"age": 27, "sex": "female"}, "history": {"training_change": ["increased_volume"]},
                 "pain": {"regions": ["groin"], "depth": "deep"},
                 "behaviour": {"walking": "painful", "trend": "worsening"}}
_LATERAL_NIGHT = {"runner": {"age": 35, "sex": "male"}, "history": {"onset": "gradual"},
                  "pain": {"regions": ["lateral_hip", "groin"]},
                  "behaviour": {"night_pain": "yes", "night_pain_kind": "unremitting", "after_run": "lingers"}}


def test_bone_sign_monotonicity_catches_a_sign_that_counts_against_bone(tmp_path, rules_dir):
    subject = props.subject_of(_with_rule(tmp_path, rules_dir, *_LIMP_AGAINST_BONE), None)
    assert {"behaviour.limp": "yes"} in subject.bone_sign_findings
    with pytest.raises(AssertionError, match=r"bone-sign monotonicity: adding behaviour\.limp=yes"):
        invariants.assert_bone_sign_monotone(subject, _GROIN_SPARSE, {"behaviour.limp": "yes"})
    # The shipped rules hold the same invariant on the same case.
    invariants.assert_bone_sign_monotone(props.subject_of(rules_dir, None), _GROIN_SPARSE, {"behaviour.limp": "yes"})


@pytest.mark.thorough
def test_bone_sign_monotonicity_search_finds_a_sign_that_counts_against_bone(tmp_path, rules_dir):
    rules = _with_rule(tmp_path, rules_dir, *_LIMP_AGAINST_BONE)
    with pytest.raises(AssertionError, match=r"bone-sign monotonicity: adding behaviour\.limp=yes"):
        props.check_bone_sign_monotonicity(rules, settings=_REPEATABLE)


def test_recording_robustness_catches_an_onset_that_hides_a_bsi(tmp_path, rules_dir):
    subject = props.subject_of(_with_rule(tmp_path, rules_dir, _SUDDEN_AGAINST_BONE), None)
    assert {"history.onset": "sudden"} in [dict(r) for r in subject.kb.safety.neutral_recodings]
    with pytest.raises(AssertionError, match=r"recording robustness: recording history\.onset=sudden pushed"):
        invariants.assert_recording_robust(subject, _LATERAL_NIGHT, {"history.onset": "sudden"})
    invariants.assert_recording_robust(props.subject_of(rules_dir, None), _LATERAL_NIGHT, {"history.onset": "sudden"})


@pytest.mark.thorough
def test_recording_robustness_search_finds_an_onset_that_hides_a_bsi(tmp_path, rules_dir):
    rules = _with_rule(tmp_path, rules_dir, _SUDDEN_AGAINST_BONE)
    with pytest.raises(AssertionError, match=r"recording robustness: recording history\.onset=sudden pushed"):
        props.check_recording_robustness(rules, settings=_REPEATABLE)


_NIGHT_URGENT = {"id": "PLANTED-NIGHT-URGENT", "when": {"behaviour.night_pain_kind": "positional"},
                 "then": {"triage": "urgent", "summary": "Wrongly urgent."}}


def test_benign_patterns_catch_positional_night_pain_made_urgent(tmp_path, rules_dir):
    # The known counterexample: the pattern itself, without its optional findings.
    subject = props.subject_of(_with_rule(tmp_path, rules_dir, _NIGHT_URGENT), None)
    [pattern] = [p for p in subject.kb.safety.benign if p.name == "positional night pain with gluteal tendon signs"]
    with pytest.raises(AssertionError, match="benign: positional night pain with gluteal tendon signs triaged urgent"):
        invariants.assert_benign(subject, pattern, [])
    invariants.assert_benign(props.subject_of(rules_dir, None), pattern, [])


@pytest.mark.thorough
def test_benign_patterns_search_finds_positional_night_pain_made_urgent(tmp_path, rules_dir):
    rules = _with_rule(tmp_path, rules_dir, _NIGHT_URGENT)
    with pytest.raises(AssertionError, match="benign: positional night pain with gluteal tendon signs triaged urgent"):
        props.check_benign_patterns(rules, settings=_REPEATABLE)


def test_benign_case_is_the_pattern_with_its_chosen_optional_findings(shipped):
    pattern = shipped.kb.safety.benign[0]
    data = invariants.benign_case(pattern, ["exam.trochanter_palpation"])
    assert data["exam"] == {"trochanter_palpation": "painful"}
    assert data["behaviour"]["night_pain_kind"] == "positional"


# Counterexamples the property search once found on the shipped rules, kept as cases.
FOUND_BY_THE_SEARCH = [
    # Gradual onset raised hip OA but not the bone stress injuries it is typical of.
    ({"runner": {"age": 50}, "history": {"prior_conditions": ["hip_trauma"], "energy_availability": "low"},
      "pain": {"regions": ["groin", "lower_back"]},
      "behaviour": {"night_pain": "yes", "mechanical_symptoms": ["click"], "morning_stiffness": "none"},
      "neuro": {"numbness": "yes"},
      "exam": {"single_leg_hop": "painful", "hip_internal_rotation": "painful_and_reduced"}},
     {"history.onset": "gradual"}),
    # An MRI showing a BSI whose site the case does not name counted for little.
    ({"history": {"mechanism": "sprint"}, "pain": {"regions": ["groin", "inner_thigh"]},
      "neuro": {"pins_and_needles": True}, "exam": {"fadir": "painful"}, "imaging": {"mri_bsi_grade": 2}},
     {"history.onset": "sudden"}),
    # A grade 3 BSI on the MRI fell behind a hip flexor strain once the sprint was recorded.
    ({"runner": {"age": 62}, "history": {"onset": "sudden"}, "pain": {"regions": ["groin"], "depth": "deep"},
      "exam": {"single_leg_hop": "pain_free", "resisted_hip_flexion": "painful", "hip_internal_rotation": "painful",
               "log_roll": "painful"},
      "imaging": {"mri_bsi_grade": 3, "xray_findings": ["joint_space_narrowing"]}},
     {"history.mechanism": "sprint"}),
]


@pytest.mark.parametrize(("case", "recoding"), FOUND_BY_THE_SEARCH)
def test_recordings_that_once_hid_a_bsi_no_longer_do(shipped, case, recoding):
    invariants.assert_recording_robust(shipped, case, recoding)


MRI_ELSEWHERE = {"runner": {"sex": "female", "occupation": "sedentary"},
                 "history": {"onset": "gradual", "prior_conditions": ["bone_stress_injury", "hip_surgery"]},
                 "pain": {"regions": ["buttock", "groin", "lower_back"]}, "behaviour": {"limp": "yes"},
                 "exam": {"single_leg_hop": "pain_free", "ischial_palpation": "painful",
                          "sacral_palpation": "painful"},
                 "imaging": {"mri_bsi_site": "femoral_shaft", "mri_bsi_grade": 1}}


def test_a_bsi_the_mri_places_in_another_bone_is_not_a_suspected_one(shipped):
    # The MRI puts the injury in the femoral shaft: the pelvic BSI may leave the top three.
    invariants.assert_recording_robust(shipped, MRI_ELSEWHERE, {"history.onset": "sudden"})


def test_a_negative_mri_leaves_no_suspected_bsi_to_hide(shipped, tmp_path, rules_dir):
    # Three tendon tests outrank a BSI the MRI has excluded, once the onset is
    # recorded as gradual: right, and not a hidden BSI.
    case = {"history": {"onset": "sudden", "mechanism": "collision"},
            "pain": {"regions": ["inner_thigh", "lateral_hip", "groin"]},
            "behaviour": {"walking": "painful", "night_pain_kind": "unremitting"},
            "exam": {"single_leg_hop": "painful", "single_leg_stance_30s": "painful",
                     "ischial_palpation": "painful", "resisted_hip_flexion": "painful"},
            "imaging": {"mri_bsi_grade": 0}}
    invariants.assert_recording_robust(shipped, case, {"history.onset": "gradual"})
    # Without the knowledge that a negative MRI rules BSIs out, the property would flag it.
    unaware = tmp_path / "rules"
    shutil.copytree(rules_dir, unaware)
    manifest = (unaware / "kb.yaml").read_text(encoding="utf-8")
    (unaware / "kb.yaml").write_text(manifest.replace("  bone_ruled_out: [mri_bsi]\n", ""),
                                     encoding="utf-8")
    with pytest.raises(AssertionError, match="recording robustness"):
        invariants.assert_recording_robust(props.load(unaware), case, {"history.onset": "gradual"})


def test_bone_ruled_out_must_name_a_derived_fact_and_value(tmp_path, rules_dir):
    broken = tmp_path / "rules"
    shutil.copytree(rules_dir, broken)
    manifest = (broken / "kb.yaml").read_text(encoding="utf-8")
    (broken / "kb.yaml").write_text(manifest.replace("bone_ruled_out: [mri_bsi]", "bone_ruled_out: [mri_bs]"),
                                    encoding="utf-8")
    with pytest.raises(HipkbError, match=r"mri_bs'.*expected a derived fact of kb\.yaml.*mri_bsi"):
        api.load_kb(broken)
