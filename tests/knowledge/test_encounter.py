"""The encounter: date, clinician, record id, setting and notes, shown by reports and never reasoned on."""

from __future__ import annotations

import json

import pytest
from fhir.resources.R4B.bundle import Bundle
from jsonschema import Draft202012Validator
from paths import ROOT

from hipkb import api
from hipkb.errors import CaseError, HipkbError
from hipkb.fhir.questionnaire import questionnaire
from hipkb.knowledge.schema import case_schema
from hipkb.load.case import validate
from hipkb.parse.text import parse_text
from hipkb.report.output import render_result
from hipkb.results.result import build_result, to_json

CASES = sorted((ROOT / "facts" / "cases").glob("*.yaml"))
ENCOUNTER = {"date": "2026-12-01", "clinician": "A. Clinician, physiotherapist", "record_id": "clinic-0042",
             "setting": "outpatient sports clinic",
             "notes": "Pain began after a track block; wants to race in six weeks."}
YAML_CASE = """\
format: hipkb-case/1
case_id: runner-042
encounter:
  date: 2026-12-01
  clinician: A. Clinician, physiotherapist
  record_id: "clinic-0042"
  setting: outpatient sports clinic
  notes: Pain began after a track block; wants to race in six weeks.
pain:
  regions: [groin]
behaviour: {hopping: painful}
"""


def load(kb, text: str, kind: str = "yaml"):
    return validate(parse_text(text, "case.yaml", kind=kind), kb.vocabulary, "case.yaml", hypotheses=kb.hypotheses)


def test_the_case_format_example_loads_with_an_unquoted_date(kb):
    case = load(kb, YAML_CASE)
    assert case.encounter == ENCOUNTER
    assert case.to_data()["encounter"] == ENCOUNTER
    # The same case in JSON reads the same.
    assert load(kb, json.dumps(case.to_data()), "json").encounter == ENCOUNTER


def test_an_unquoted_date_elsewhere_is_still_refused(kb):
    with pytest.raises(HipkbError, match=r"case_id: YAML tag !!timestamp is not allowed"):
        load(kb, YAML_CASE.replace("case_id: runner-042", "case_id: 2026-12-01"))


@pytest.mark.parametrize(("encounter", "field", "message"), [
    ({"dat": "2026-12-01"}, "encounter.dat", "unknown field; allowed: date, clinician, record_id, setting, notes "
                                             "(did you mean 'date'?)"),
    ({"date": "2026-13-01"}, "encounter.date", "no such date"),
    ({"date": "1 December 2026"}, "encounter.date", "expected a date written YYYY-MM-DD"),
    ({"date": "20261201"}, "encounter.date", "expected a date written YYYY-MM-DD"),
    ({"clinician": ["a", "b"]}, "encounter.clinician", "found a list; expected text"),
    ({"setting": "   "}, "encounter.setting", "found an empty text"),
    ({"notes": "x" * 4001}, "encounter.notes", "longer than 4000 characters"),
    ({"record_id": True}, "encounter.record_id", "expected text"),
    ("today", "encounter", "expected a mapping"),
])
def test_a_bad_encounter_is_one_line_naming_the_field(kb, encounter, field, message):
    data = {"pain": {"regions": ["groin"]}, "encounter": encounter}
    with pytest.raises(CaseError) as error:
        validate(data, kb.vocabulary, "case.yaml")
    assert error.value.where == field
    assert message in error.value.message


def test_a_record_id_may_be_a_number_and_an_empty_encounter_is_none(kb):
    case = validate({"pain": {"regions": ["groin"]}, "encounter": {"record_id": 4711}}, kb.vocabulary, "c")
    assert case.encounter == {"record_id": "4711"}
    assert validate({"pain": {"regions": ["groin"]}, "encounter": None}, kb.vocabulary, "c").encounter is None
    assert validate({"pain": {"regions": ["groin"]}, "encounter": {}}, kb.vocabulary, "c").encounter is None


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_reasoning_never_reads_the_encounter(kb, reasoner, path):
    case = api.load_case(path, kb)
    with_encounter = validate({**case.to_data(), "encounter": ENCOUNTER}, kb.vocabulary, str(path),
                              default_id=path.stem, hypotheses=kb.hypotheses)
    assert with_encounter.encounter == ENCOUNTER
    assert to_json(api.run_case(reasoner, with_encounter)) == to_json(api.run_case(reasoner, case))


def test_the_schema_accepts_the_encounter_as_the_loader_does(kb):
    validator = Draft202012Validator(case_schema(kb.vocabulary, tuple(kb.hypotheses)))
    base = {"pain": {"regions": ["groin"]}}
    assert not list(validator.iter_errors({**base, "encounter": ENCOUNTER}))
    assert not list(validator.iter_errors({**base, "encounter": {"record_id": 4711}}))
    for bad in ({"dat": "2026-12-01"}, {"date": "1 December"}, {"setting": "  "}, {"notes": 5}):
        assert list(validator.iter_errors({**base, "encounter": bad})), bad
        with pytest.raises(CaseError):
            validate({**base, "encounter": bad}, kb.vocabulary, "c")


def _bundle(kb, reasoner, case) -> dict:
    inference = reasoner.infer(case)
    text = render_result(kb, inference, build_result(kb, inference), "fhir")
    return json.loads(text)


def test_the_fhir_bundle_carries_the_encounter_where_fhir_has_a_place_for_it(kb, reasoner):
    case = load(kb, YAML_CASE)
    bundle = _bundle(kb, reasoner, case)
    Bundle.model_validate(bundle)
    resources = [entry["resource"] for entry in bundle["entry"]]
    risk, observations = resources[0], resources[1:]
    assert risk["occurrenceDateTime"] == "2026-12-01"
    assert all(o["effectiveDateTime"] == "2026-12-01" for o in observations)
    assert all(r["subject"]["identifier"]["value"] == "clinic-0042" for r in resources)
    assert {"authorString": ENCOUNTER["clinician"], "text": ENCOUNTER["notes"]} in risk["note"]
    # Only from the case: the same case gives the same bytes.
    assert json.dumps(_bundle(kb, reasoner, load(kb, YAML_CASE))) == json.dumps(bundle)


def test_a_case_without_an_encounter_gives_no_date_and_names_the_runner_by_case_id(kb, reasoner):
    bundle = _bundle(kb, reasoner, api.load_case(CASES[0], kb))
    resources = [entry["resource"] for entry in bundle["entry"]]
    assert not any("occurrenceDateTime" in r or "effectiveDateTime" in r for r in resources)
    assert resources[0]["subject"]["identifier"]["value"] == api.load_case(CASES[0], kb).case_id


def test_a_questionnaire_response_carries_the_encounter(kb):
    form = questionnaire(kb.vocabulary)
    group = next(item for item in form["item"] if item["linkId"] == "encounter")
    types = {item["linkId"]: item["type"] for item in group["item"]}
    assert types == {"encounter.date": "date", "encounter.clinician": "string", "encounter.record_id": "string",
                     "encounter.setting": "string", "encounter.notes": "text"}
    key = {"date": "valueDate", "string": "valueString", "text": "valueString"}
    response = {
        "resourceType": "QuestionnaireResponse", "id": "qr-1", "status": "completed",
        "questionnaire": f"{form['url']}|{form['version']}",
        "item": [
            {"linkId": "encounter", "item": [{"linkId": link, "answer": [{key[kind]: ENCOUNTER[link[10:]]}]}
                                             for link, kind in types.items()]},
            {"linkId": "pain", "item": [{"linkId": "pain.regions", "answer": [{"valueCoding": {
                "system": "https://hipkb.example/fhir/CodeSystem/hipkb", "code": "groin"}}]}]},
        ],
    }
    case = validate(response, kb.vocabulary, "qr.json", hypotheses=kb.hypotheses)
    assert case.encounter == ENCOUNTER
    response["item"][0]["item"][0]["answer"] = [{"valueDate": "yesterday"}]
    with pytest.raises(CaseError) as error:
        validate(response, kb.vocabulary, "qr.json")
    assert error.value.where == "item[linkId=encounter.date]"
    assert "expected a date" in error.value.message
