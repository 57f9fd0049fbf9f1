"""Next questions that read the case (issue 21, item 7): no follow-up to a "no", who the runner is first,
reasons that name only what is in view; and what counts against osteoarthritis, and when "safety first" is said."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from hipkb import api
from hipkb.load.case import validate
from hipkb.results.questions import next_questions

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "facts" / "cases").glob("*.yaml"))


def _asked(kb, data):
    return [q["fact"] for q in api.run_data(data, kb)["next_questions"]]


def test_no_follow_up_to_a_no(kb, reasoner):
    for night in ("no", "yes"):
        data = {"runner": {"age": 30, "sex": "male"}, "pain": {"regions": ["lateral_hip"]},
                "behaviour": {"night_pain": night}}
        case = validate(data, kb.vocabulary, "night", default_id="night", hypotheses=kb.hypotheses)
        asked = [q.fact for q in next_questions(kb, reasoner.infer(case), limit=15)]
        if night == "no":
            assert "behaviour.night_pain_kind" not in asked
        else:  # after "yes" it is worth knowing: positional (the tendon's) or not (a bone sign)
            assert "behaviour.night_pain_kind" in asked


def test_a_follow_up_waits_for_what_it_follows(kb):
    vocabulary = kb.vocabulary
    assert not vocabulary.may_ask("behaviour.night_pain_kind", {})
    assert vocabulary.may_ask("behaviour.night_pain_kind", {"behaviour.night_pain": "yes"})
    assert not vocabulary.may_ask("history.menses_last_12_months", {"runner.sex": "male"})
    assert vocabulary.may_ask("history.menses_last_12_months", {"runner.sex": "female"})
    assert not vocabulary.may_ask("imaging.mri_bsi_site", {"imaging.mri_bsi_grade": 0})
    assert vocabulary.may_ask("imaging.mri_bsi_site", {"imaging.mri_bsi_grade": 2})


def test_age_and_sex_come_first_while_unknown(kb):
    assert _asked(kb, {"pain": {"regions": ["groin"]}})[:2] == ["runner.age", "runner.sex"]
    assert _asked(kb, {"runner": {"age": 40}, "pain": {"regions": ["groin"]}})[0] == "runner.sex"
    known = _asked(kb, {"runner": {"age": 40, "sex": "female"}, "pain": {"regions": ["groin"]}})
    assert "runner.age" not in known and "runner.sex" not in known


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_a_reason_names_only_hypotheses_in_view(kb, path):
    result = api.run_data(api.load_case(path, kb).to_data(), kb)
    in_view = {h["id"] for h in result["hypotheses"]} | {
        e["id"] for e in result["exclusions"] if e["status"] != "excluded"}
    for question in result["next_questions"]:
        named = set(re.findall(r"\b[a-z]+(?:_[a-z]+)+\b", question["why"])) & set(kb.hypotheses)
        assert named <= in_view, (question["fact"], question["why"])
        assert question["why"], question["fact"]


def test_full_pain_free_internal_rotation_counts_against_osteoarthritis(kb):
    base = {"runner": {"age": 58}, "pain": {"regions": ["groin"]},
            "behaviour": {"morning_stiffness": "under_30_min"}}
    certainty = {}
    for rotation in ("reduced", "normal"):
        result = api.run_data({**base, "exam": {"hip_internal_rotation": rotation}}, kb)
        oa = next((h for h in result["hypotheses"] if h["id"] == "hip_osteoarthritis"), None)
        certainty[rotation] = oa["certainty"] if oa else 0.0
        if rotation == "normal" and oa:
            assert any(a["rule"] == "OA-AGAINST-ROTATION-NORMAL" for a in oa["against"])
    assert certainty["normal"] < certainty["reduced"]


def test_safety_first_is_said_only_of_an_alarm(kb, reasoner):
    # Osteoarthritis sets a routine triage while ranked below another hypothesis: no "safety first".
    data = {"runner": {"age": 60}, "pain": {"regions": ["groin"]},
            "behaviour": {"morning_stiffness": "under_30_min", "sitting": "painful",
                          "mechanical_symptoms": ["click", "catch"]},
            "history": {"prior_conditions": ["labral_tear"]}, "exam": {"fadir": "painful"}}
    result = api.run_data(data, kb)
    assert result["hypotheses"][0]["id"] != "hip_osteoarthritis"
    assert "TRIAGE-OSTEOARTHRITIS" in result["triage"]["because"] or result["triage"]["level"] == "routine"
    case = validate(data, kb.vocabulary, "oa-second", default_id="oa-second", hypotheses=kb.hypotheses)
    assert "safety first" not in api.report(reasoner, case, "md")
