"""FHIR in and out (issue 12): the Questionnaire, responses as cases, the Bundle, the codes.

Every resource hipkb writes is parsed with ``fhir.resources`` (its R4B models:
R4B changed none of Questionnaire, QuestionnaireResponse, RiskAssessment,
Observation or Bundle from R4), and the codes its models leave as free
strings are checked here against R4's required value sets.
"""

from __future__ import annotations

import copy
import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.questionnaire import Questionnaire
from fhir.resources.R4B.questionnaireresponse import QuestionnaireResponse
from fhir.resources.R4B.riskassessment import RiskAssessment
from hypothesis import assume, given, settings
from paths import ROOT

from hipkb import api
from hipkb.errors import RuleError
from hipkb.fhir import codesystem
from hipkb.fhir.questionnaire import questionnaire
from hipkb.knowledge.encounter import FIELDS as ENCOUNTER_FIELDS
from hipkb.testing import strategies as hs

CASES = sorted((ROOT / "facts" / "cases").glob("*.yaml"))
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
SNOMED = "http://snomed.info/sct"
FHIR_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")
OPTION_EXCLUSIVE = "http://hl7.org/fhir/StructureDefinition/questionnaire-optionExclusive"

# R4's required bindings that the models do not enforce.
ITEM_TYPES = {"group", "display", "boolean", "decimal", "integer", "date", "dateTime", "time", "string",
              "text", "url", "choice", "open-choice", "attachment", "reference", "quantity"}
PUBLICATION_STATUS = {"draft", "active", "retired", "unknown"}
ENABLE_WHEN_OPERATORS = {"exists", "=", "!=", ">", "<", ">=", "<="}
OBSERVATION_STATUS = {"registered", "preliminary", "final", "amended", "corrected", "cancelled",
                      "entered-in-error", "unknown"}
BUNDLE_TYPES = {"document", "message", "transaction", "transaction-response", "batch", "batch-response",
                "history", "searchset", "collection"}
MODELS = {"RiskAssessment": RiskAssessment, "Observation": Observation}


@pytest.fixture(scope="module")
def form(kb) -> dict[str, Any]:
    return questionnaire(kb.vocabulary)


# --------------------------------------------------------------------------
# A response written from the Questionnaire alone: what a form tool would send


def response_for(form: dict[str, Any], data: dict[str, Any], case_id: str, rid: str) -> dict[str, Any]:
    """A QuestionnaireResponse to *form* holding the findings of a case file's raw data.

    Written from the Questionnaire: each item's linkId, type, repeats and
    answer options decide the answer, never hipkb's case loader.
    """
    def words(value: Any) -> list[Any]:
        values = value if isinstance(value, list) else [value]
        # YAML 1.1 reads a bare yes/no as a boolean; the form's codes are the words.
        return [{True: "yes", False: "no"}.get(v, v) if isinstance(v, bool) else v for v in values]

    def answers(item: dict[str, Any], value: Any) -> list[dict[str, Any]]:
        if item["type"] == "choice":
            options = {o["valueCoding"]["code"]: o["valueCoding"] for o in item["answerOption"]}
            if value == []:  # none of them: the exclusive option says so
                [exclusive] = [o["valueCoding"] for o in item["answerOption"]
                               if {"url": OPTION_EXCLUSIVE, "valueBoolean": True} in o.get("extension", [])]
                return [{"valueCoding": dict(exclusive)}]
            return [{"valueCoding": dict(options[v])} for v in words(value)]
        if item["type"] == "integer":
            return [{"valueInteger": int(value)}]  # JSON's integer, as a form tool writes it
        key = {"decimal": "valueDecimal", "string": "valueString", "text": "valueString",
               "date": "valueDate"}[item["type"]]
        return [{key: value}]

    items = []
    for item in form["item"]:
        if item["type"] != "group":
            if item["linkId"] == "case_id":
                items.append({"linkId": "case_id", "answer": answers(item, case_id)})
            continue
        group = data.get(item["linkId"]) or {}
        children = []
        for child in item["item"]:
            name = child["linkId"].split(".", 1)[1]
            if name in group:
                children.append({"linkId": child["linkId"], "text": child["text"],
                                 "answer": answers(child, group[name])})
        if children:
            items.append({"linkId": item["linkId"], "text": item["text"], "item": children})
    return {"resourceType": "QuestionnaireResponse", "id": rid,
            "questionnaire": f"{form['url']}|{form['version']}", "status": "completed", "item": items}


def _responses(form: dict[str, Any], directory: Path) -> list[Path]:
    directory.mkdir(exist_ok=True)
    written = []
    for path in CASES:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        target = directory / f"{path.stem}.json"
        response = response_for(form, data, data.get("case_id", path.stem), f"qr-{path.stem}")
        target.write_text(json.dumps(response, indent=2), encoding="utf-8")
        written.append(target)
    return written


# --------------------------------------------------------------------------
# The Questionnaire


def _walk(items: list[dict[str, Any]]):
    for item in items:
        yield item
        yield from _walk(item.get("item", []))


def test_the_questionnaire_is_valid_r4_and_asks_every_field(form, kb):
    Questionnaire.model_validate(form)
    assert form["status"] in PUBLICATION_STATUS
    items = list(_walk(form["item"]))
    assert all(item["type"] in ITEM_TYPES for item in items)
    links = [item["linkId"] for item in items]
    assert len(links) == len(set(links))
    # One item per field, in its group, and one group per vocabulary group; and the encounter.
    fields = {link for link in links if "." in link}
    encounter = {f"encounter.{f.name}" for f in ENCOUNTER_FIELDS}
    assert fields == set(kb.vocabulary.fields) | encounter
    for group in (item for item in form["item"] if item["type"] == "group"):
        expected = encounter if group["linkId"] == "encounter" else {
            f.path for f in kb.vocabulary.groups[group["linkId"]].fields.values()}
        assert {child["linkId"] for child in group["item"]} == expected
    seen: set[str] = set()
    for item in items:
        spec = kb.vocabulary.fields.get(item["linkId"])
        for condition in item.get("enableWhen", []):
            assert condition["operator"] in ENABLE_WHEN_OPERATORS
            assert condition["question"] in seen  # asked before
        seen.add(item["linkId"])
        if spec is None:
            continue
        assert item["text"] == spec.question
        assert bool(item.get("repeats")) == (spec.type == "set")
        if spec.type in ("choice", "set"):
            codes = [o["valueCoding"]["code"] for o in item["answerOption"]]
            none = ["none"] if spec.type == "set" and not spec.required and "none" not in spec.values else []
            assert codes == [*spec.values, *spec.unknown, *none]
            assert {(o["valueCoding"]["system"], o["valueCoding"]["version"]) for o in item["answerOption"]} == {
                (codesystem.CODE_SYSTEM, codesystem.CODE_SYSTEM_VERSION)}
        if spec.is_numeric:
            assert item["type"] == ("integer" if spec.type == "integer" else "decimal")
            bounds = {e["url"].rsplit("/", 1)[1]: next(v for k, v in e.items() if k.startswith("value"))
                      for e in item["extension"]}
            assert bounds == {"minValue": spec.minimum, "maxValue": spec.maximum}
    assert [item["linkId"] for item in items if "required" in item] == ["pain.regions"]


def test_enable_when_never_hides_a_finding_a_valid_case_can_hold(form, kb):
    # Each condition only asks that a required field be answered: every valid case answers it.
    for item in _walk(form["item"]):
        for condition in item.get("enableWhen", []):
            assert condition == {"question": condition["question"], "operator": "exists", "answerBoolean": True}
            assert kb.vocabulary.fields[condition["question"]].required


def test_hipkb_questionnaire_prints_it(cli, form):
    first = cli("questionnaire")
    assert first.exit_code == 0
    assert json.loads(first.stdout) == form
    assert cli("questionnaire").stdout == first.stdout  # no date, no random id


# --------------------------------------------------------------------------
# A response is a case


def test_each_example_as_a_response_gives_the_same_result_byte_for_byte(cli, form, tmp_path):
    responses = _responses(form, tmp_path / "responses")
    for path in responses:
        QuestionnaireResponse.model_validate(json.loads(path.read_text()))
    from_yaml = cli("run", *CASES, "-j", "1")
    from_fhir = cli("run", *responses, "-j", "1")
    assert from_yaml.exit_code == from_fhir.exit_code == 0
    yaml_lines, fhir_lines = from_yaml.stdout.splitlines(), from_fhir.stdout.splitlines()
    assert len(yaml_lines) == len(CASES)
    for case, a, b in zip(CASES, yaml_lines, fhir_lines, strict=True):
        assert a == b, case.name


def test_each_example_validates_and_explains_as_a_response(cli, form, tmp_path):
    responses = _responses(form, tmp_path / "responses")
    checked = cli("validate", *responses)
    assert checked.exit_code == 0, checked.output
    explained = cli("explain", responses[0], "--trace")
    assert explained.exit_code == 0
    assert explained.stdout == cli("explain", CASES[0], "--trace").stdout
    compared = cli("compare", "--rules", ROOT / "rules", "--rules", ROOT / "rules", *responses[:3])
    assert compared.exit_code == 0
    assert "0 of 3 case(s) differ" in compared.stdout


def test_a_response_on_stdin_and_from_python(cli, form, kb):
    data = yaml.safe_load(CASES[0].read_text())
    response = response_for(form, data, data.get("case_id", CASES[0].stem), "qr-1")
    on_stdin = cli("run", "-", input=json.dumps(response, indent=2))
    assert on_stdin.exit_code == 0
    assert on_stdin.stdout == cli("run", CASES[0]).stdout
    assert api.run_data(response, kb) == json.loads(on_stdin.stdout)


@settings(max_examples=60, deadline=None)
@given(case=hs.cases())
def test_any_valid_case_as_a_response_reasons_the_same(kb, form, case):
    # A set with a `none` value of its own records "none of them" as [none];
    # an empty list of it has no answer in a form.
    assume(not any(value == [] and "none" in kb.vocabulary.groups[group].fields[name].values
                   for group, fields in case.items() if isinstance(fields, dict)
                   for name, value in fields.items()))
    response = response_for(form, case, case.get("case_id", "case"), "qr-1")
    QuestionnaireResponse.model_validate(response)
    assert api.to_json(api.run_data(response, kb)) == api.to_json(api.run_data(case, kb))


def test_none_of_these_is_a_known_empty_list_and_excludes_the_rest(cli, form, kb, tmp_path):
    case = {"pain": {"regions": ["groin"]}, "history": {"prior_conditions": []}}
    response = response_for(form, case, "case", "qr-none")
    [history] = [item for item in response["item"] if item["linkId"] == "history"]
    answers = history["item"][0]["answer"]
    assert [a["valueCoding"]["code"] for a in answers] == ["none"]
    result = api.run_data(response, kb)
    assert result == api.run_data(case, kb)
    assert result["findings"]["known"] == 2  # known to be none, not unknown
    answers.append(_coding("hip_surgery"))
    path = tmp_path / "r.json"
    path.write_text(json.dumps(response))
    failed = cli("run", path)
    assert failed.exit_code == 2
    assert "item[linkId=history.prior_conditions]: 'none' excludes every other answer" in failed.stderr


def test_the_case_id_falls_back_to_the_response_id_then_the_file_name(cli, form, tmp_path):
    response = response_for(form, {"pain": {"regions": ["groin"]}}, "x", "qr-7")
    response["item"] = [i for i in response["item"] if i["linkId"] != "case_id"]
    path = tmp_path / "answers.json"
    path.write_text(json.dumps(response))
    assert json.loads(cli("run", path).stdout)["case_id"] == "qr-7"
    del response["id"]
    path.write_text(json.dumps(response))
    assert json.loads(cli("run", path).stdout)["case_id"] == "answers"


def _coding(code: str) -> dict[str, Any]:
    return {"valueCoding": {"system": codesystem.CODE_SYSTEM, "code": code}}


def _set(response: dict[str, Any], link: str, answer: Any) -> None:
    group = link.split(".")[0]
    for item in response["item"]:
        if item["linkId"] == group:
            for child in item["item"]:
                if child["linkId"] == link:
                    child["answer"] = answer
                    return
            item["item"].append({"linkId": link, "answer": answer})
            return
    response["item"].append({"linkId": group, "item": [{"linkId": link, "answer": answer}]})


def _mutations() -> list[tuple[str, Any, str]]:
    def edit(fn):
        return fn

    return [
        ("wrong linkId", edit(lambda r: _set(r, "behaviour.hoping", [_coding("painful")])),
         "item[linkId=behaviour.hoping]: unknown item in group 'behaviour'; allowed: "),
        ("wrong answer type", edit(lambda r: _set(r, "runner.age", [{"valueString": "34"}])),
         "item[linkId=runner.age]: found valueString; expected valueInteger (an integer question)"),
        ("unknown code", edit(lambda r: _set(r, "behaviour.hopping", [_coding("sore")])),
         "item[linkId=behaviour.hopping]: found code 'sore'; allowed: painful, pain_free, unknown"),
        ("another code system", edit(lambda r: _set(r, "behaviour.hopping", [
            {"valueCoding": {"system": SNOMED, "code": "22253000"}}])),
         "item[linkId=behaviour.hopping]: found a code of 'http://snomed.info/sct'; expected hipkb's code system"),
        ("two answers to one question", edit(lambda r: _set(r, "runner.sex", [_coding("female"), _coding("male")])),
         "item[linkId=runner.sex]: 2 answers; this question takes one"),
        ("out of range", edit(lambda r: _set(r, "runner.age", [{"valueInteger": 7}])),
         "item[linkId=runner.age]: found 7; allowed: an integer from 10 to 100"),
        ("missing questionnaire", edit(lambda r: r.pop("questionnaire")),
         "questionnaire: missing; a response to hipkb's questionnaire says "),
        ("another questionnaire", edit(lambda r: r.update(questionnaire="http://example.org/Questionnaire/phq-9|1")),
         "questionnaire: found 'http://example.org/Questionnaire/phq-9|1': a response to another questionnaire"),
        ("another version", edit(lambda r: r.update(questionnaire=r["questionnaire"].replace("|1", "|2"))),
         "a response to version '2' of hipkb's questionnaire; this hipkb reads "),
        ("a field outside its group", edit(lambda r: r["item"].append(
            {"linkId": "behaviour.sitting", "answer": [_coding("painful")]})),
         "item[linkId=behaviour.sitting]: a field item belongs inside its group; nest it in the item with linkId"),
        ("a field in the wrong group", edit(lambda r: r["item"][1]["item"].append(
            {"linkId": "behaviour.sitting", "answer": [_coding("painful")]})),
         "item[linkId=behaviour.sitting]: belongs in group 'behaviour', not in 'runner'"),
        ("an item twice", edit(lambda r: r["item"][1]["item"].append(dict(r["item"][1]["item"][0]))),
         "item[linkId=runner.age]: answered twice; each item appears once"),
        ("items nested under an answer", edit(lambda r: _set(r, "behaviour.sitting", [
            {**_coding("painful"), "item": [{"linkId": "x"}]}])),
         "item[linkId=behaviour.sitting].answer: nested items under an answer are not part of this form"),
        *[(f"an answer of {found}", edit(lambda r, v=value: _set(r, "neuro.saddle_numbness", v)),
           f"item[linkId=neuro.saddle_numbness].answer: found {found}; expected a list of answers")
          for value, found in (({}, "a mapping"), (False, "False"), ("", "''"), (0, "0"))],
        ("a modifier extension in a coding", edit(lambda r: _set(r, "neuro.saddle_numbness", [{"valueCoding": {
            "system": codesystem.CODE_SYSTEM, "code": "no", "modifierExtension": [{"url": "http://example.org/not"}]}}])),
         "item[linkId=neuro.saddle_numbness].answer: valueCoding.modifierExtension: not part of a coding; hipkb "
         "cannot honour a modifier extension"),
        ("another key in a coding", edit(lambda r: _set(r, "neuro.saddle_numbness", [{"valueCoding": {
            "system": codesystem.CODE_SYSTEM, "code": "yes", "negated": True}}])),
         "item[linkId=neuro.saddle_numbness].answer: valueCoding.negated: not part of a coding; allowed: system, "),
        ("a modifier extension", edit(lambda r: r.update(modifierExtension=[{"url": "http://example.org/x"}])),
         "modifierExtension: not an element hipkb reads in a QuestionnaireResponse; hipkb cannot honour"),
        ("no regions", edit(lambda r: r.update(item=[i for i in r["item"] if i["linkId"] != "pain"])),
         "item[linkId=pain.regions]: is required"),
        ("a bad id", edit(lambda r: r.update(id="qr 1")),
         "id: found 'qr 1'; a FHIR id is 1 to 64 of"),
        ("a subject that is no Reference", edit(lambda r: r.update(subject={"reference": "Patient/1", "name": "x"})),
         "subject.name: not read by hipkb; a subject is a Reference"),
        ("another resource", edit(lambda r: r.update(resourceType="Patient")),
         "resourceType: found 'Patient'; a FHIR case must be a QuestionnaireResponse"),
    ]


@pytest.mark.parametrize(("mutate", "expected"), [(m, e) for _, m, e in _mutations()],
                         ids=[name for name, _, _ in _mutations()])
def test_a_malformed_response_gets_one_line_and_exit_2(cli, form, tmp_path, mutate, expected):
    data = yaml.safe_load((ROOT / "facts" / "cases" / "fnbsi-classic.yaml").read_text())
    response = response_for(form, data, "fnbsi-classic", "qr-1")
    assert [i["linkId"] for i in response["item"]][:3] == ["case_id", "runner", "history"]
    mutate(response)
    path = tmp_path / "response.json"
    path.write_text(json.dumps(response, indent=2))
    for command in ("run", "validate"):
        result = cli(command, path)
        assert result.exit_code == 2, result.output
        assert result.stdout == ""
        assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
        assert result.stderr.startswith(f"hipkb: {path}: ")
        assert expected in result.stderr, result.stderr


def test_a_malformed_response_in_a_batch_does_not_stop_the_others(cli, form, tmp_path):
    good = response_for(form, {"pain": {"regions": ["groin"]}}, "good", "qr-good")
    bad = copy.deepcopy(good)
    bad.pop("questionnaire")
    (tmp_path / "a.json").write_text(json.dumps(good))
    (tmp_path / "b.json").write_text(json.dumps(bad))
    result = cli("run", tmp_path, "--format", "fhir")
    assert result.exit_code == 1
    assert len(result.stdout.splitlines()) == 1
    assert "b.json: questionnaire: missing" in result.stderr


# --------------------------------------------------------------------------
# --format fhir


def _check_bundle(text: str) -> dict[str, Any]:
    assert text.endswith("\n") and text.count("\n") == 1
    data = json.loads(text)
    Bundle.model_validate(data)
    assert data["type"] in BUNDLE_TYPES
    urls = [entry["fullUrl"] for entry in data["entry"]]
    assert len(urls) == len(set(urls))
    for entry in data["entry"]:
        resource = entry["resource"]
        MODELS[resource["resourceType"]].model_validate(resource)
        assert FHIR_ID.match(resource["id"])
        assert resource["status"] in OBSERVATION_STATUS
    return data


def _resources(data: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [e["resource"] for e in data["entry"] if e["resource"]["resourceType"] == kind]


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_format_fhir_is_valid_r4_and_says_what_the_result_says(cli, path):
    text = cli("run", path, "--format", "fhir").stdout
    data = _check_bundle(text)
    result = json.loads(cli("run", path).stdout)
    [risk] = _resources(data, "RiskAssessment")
    assert "basis" not in risk  # a case file is no FHIR resource to point at
    predictions = risk.get("prediction", [])
    assert [p["outcome"]["coding"][0]["code"] for p in predictions] == [h["id"] for h in result["hypotheses"]]
    for prediction, hypothesis in zip(predictions, result["hypotheses"], strict=True):
        assert prediction["qualitativeRisk"]["coding"][0]["code"] == hypothesis["band"]
        assert "probabilityDecimal" not in prediction  # a certainty factor is no probability
        [certainty] = prediction["extension"]
        assert certainty == {"url": codesystem.CERTAINTY_EXTENSION, "valueDecimal": hypothesis["certainty"]}
        standard = [{k: v for k, v in c.items() if k != "extension"} for c in prediction["outcome"]["coding"][1:]]
        assert standard == [{k: v for k, v in c.items() if k != "approximate"} for c in hypothesis["codes"]]
    observations = {(o["code"]["coding"][0]["code"], o["valueCodeableConcept"]["coding"][0]["code"])
                    for o in _resources(data, "Observation")}
    assert ("triage", result["triage"]["level"]) in observations
    assert ("running-advice", result["running"]["advice"]) in observations
    assert {v for k, v in observations if k == "red-flag"} == {f["id"] for f in result["red_flags"]}
    assert {v for k, v in observations if k == "referral"} == {r["id"] for r in result["referrals"]}
    assert cli("run", path, "--format", "fhir").stdout == text


def test_format_fhir_from_a_response_points_at_it_and_differs_in_nothing_else(cli, form, tmp_path):
    responses = _responses(form, tmp_path / "responses")
    for case, response in zip(CASES, responses, strict=True):
        from_fhir = _check_bundle(cli("run", response, "--format", "fhir").stdout)
        from_yaml = json.loads(cli("run", case, "--format", "fhir").stdout)
        reference = {"reference": f"QuestionnaireResponse/qr-{case.stem}", "type": "QuestionnaireResponse"}
        for entry in from_fhir["entry"]:
            resource = entry["resource"]
            assert resource.pop("basis" if resource["resourceType"] == "RiskAssessment" else "derivedFrom") == [
                reference]
        assert from_fhir == from_yaml, case.name


def test_format_fhir_keeps_the_response_subject(cli, form, tmp_path):
    response = response_for(form, {"pain": {"regions": ["buttock"]}}, "s1", "qr-s1")
    response["subject"] = {"reference": "Patient/p-42", "display": "A. Runner"}
    path = tmp_path / "r.json"
    path.write_text(json.dumps(response))
    data = _check_bundle(cli("run", path, "--format", "fhir").stdout)
    assert {e["resource"]["subject"]["reference"] for e in data["entry"]} == {"Patient/p-42"}


def test_format_fhir_writes_one_file_per_case_into_a_directory(cli, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    result = cli("run", CASES[0], CASES[1], "--format", "fhir", "-o", out, "-j", "1")
    assert result.exit_code == 0
    assert sorted(p.name for p in out.iterdir()) == sorted(
        f"{yaml.safe_load(p.read_text()).get('case_id', p.stem)}.fhir.json" for p in CASES[:2])


# --------------------------------------------------------------------------
# Codes


def test_every_hypothesis_and_red_flag_has_icd10cm_and_snomed_codes(kb):
    for ident in kb.hypotheses:
        assert {c.system for c in kb.codes.hypothesis(ident)} == {ICD10CM, SNOMED}, ident
    for ident in kb.red_flags:
        assert {c.system for c in kb.codes.red_flag(ident)} == {ICD10CM, SNOMED}, ident
    shipped = yaml.safe_load((ROOT / "rules" / "codes.yaml").read_text())
    for ident in shipped.get("upcoming_hypotheses") or {}:
        assert ident not in kb.hypotheses  # else it belongs under hypotheses


def test_results_and_reports_carry_the_codes(cli):
    path = ROOT / "facts" / "cases" / "fnbsi-classic.yaml"
    result = json.loads(cli("run", path).stdout)
    top = result["hypotheses"][0]
    assert top["id"] == "femoral_neck_bsi"
    assert top["codes"][0] == {"system": ICD10CM, "code": "M84.359A",
                               "display": "Stress fracture, hip, unspecified, initial encounter for fracture",
                               "approximate": True}
    assert "ICD-10-CM `M84.359A` Stress fracture, hip" in cli("run", path, "--format", "md").stdout
    assert "ICD-10-CM M84.359A" in cli("run", path, "--format", "txt").stdout
    assert "<code>M84.359A</code>" in cli("run", path, "--format", "html").stdout


def _rules_copy(rules_dir: Path, tmp_path: Path) -> Path:
    target = tmp_path / "rules"
    shutil.copytree(rules_dir, target)
    return target


def test_a_code_for_an_undeclared_id_is_refused_naming_file_and_key(rules_dir, facts_dir, tmp_path):
    rules = _rules_copy(rules_dir, tmp_path)
    data = yaml.safe_load((rules / "codes.yaml").read_text())
    data["red_flags"]["possible_fractur"] = copy.deepcopy(data["red_flags"]["possible_fracture"])
    (rules / "codes.yaml").write_text(yaml.safe_dump(data))
    with pytest.raises(RuleError) as error:
        api.load_kb(rules, facts_dir)
    assert str(error.value).startswith(f"{rules / 'codes.yaml'}: red_flags.possible_fractur: not declared in kb.yaml")
    assert "did you mean 'possible_fracture'" in str(error.value)


def test_upcoming_codes_count_once_declared_and_a_hypothesis_may_have_none(cli, rules_dir, facts_dir, tmp_path):
    rules = _rules_copy(rules_dir, tmp_path)
    manifest = yaml.safe_load((rules / "kb.yaml").read_text())
    manifest["hypotheses"]["hip_osteoarthritis"] = {"label": "Hip osteoarthritis"}
    (rules / "kb.yaml").write_text(yaml.safe_dump(manifest, sort_keys=False))
    codes = yaml.safe_load((rules / "codes.yaml").read_text())
    del codes["hypotheses"]["femoral_neck_bsi"]
    (rules / "codes.yaml").write_text(yaml.safe_dump(codes, sort_keys=False))
    kb = api.load_kb(rules, facts_dir)
    assert [c.code for c in kb.codes.hypothesis("hip_osteoarthritis")] == ["M16.9", "239872002"]
    result = json.loads(cli("run", ROOT / "facts" / "cases" / "fnbsi-classic.yaml", "--rules", rules).stdout)
    assert result["hypotheses"][0]["id"] == "femoral_neck_bsi"
    assert result["hypotheses"][0]["codes"] == []
    bundle = _check_bundle(cli("run", ROOT / "facts" / "cases" / "fnbsi-classic.yaml", "--rules", rules,
                               "--format", "fhir").stdout)
    [risk] = _resources(bundle, "RiskAssessment")
    assert len(risk["prediction"][0]["outcome"]["coding"]) == 1  # hipkb's own code only


@pytest.mark.parametrize(("entry", "message"), [
    ({"system": "http://loinc.org", "code": "x", "display": "x"}, ".system: found 'http://loinc.org'; allowed: "),
    ({"system": SNOMED, "code": 240197007, "display": "Stress fracture"}, ".code: found 240197007; expected"),
    ({"system": SNOMED, "code": "1", "display": "x", "approx": True}, ".approx: unknown key"),
])
def test_a_malformed_code_is_refused(rules_dir, facts_dir, tmp_path, entry, message):
    rules = _rules_copy(rules_dir, tmp_path)
    data = yaml.safe_load((rules / "codes.yaml").read_text())
    data["hypotheses"]["pelvic_bsi"] = [entry]
    (rules / "codes.yaml").write_text(yaml.safe_dump(data))
    with pytest.raises(RuleError) as error:
        api.load_kb(rules, facts_dir)
    assert "codes.yaml: hypotheses.pelvic_bsi[0]" in str(error.value)
    assert message in str(error.value)


def test_a_whole_valuedecimal_reasons_and_writes_as_the_same_integer_in_yaml(cli, form, tmp_path):
    data = {"case_id": "severe", "pain": {"regions": ["groin"], "severity": 8}}
    (tmp_path / "severe.yaml").write_text(yaml.safe_dump(data))
    response = response_for(form, data, "severe", "qr-8")
    _set(response, "pain.severity", [{"valueDecimal": 8.0}])  # as a form tool may write a decimal answer
    (tmp_path / "severe.json").write_text(json.dumps(response))
    from_yaml, from_fhir = cli("run", tmp_path / "severe.yaml"), cli("run", tmp_path / "severe.json")
    assert from_yaml.exit_code == from_fhir.exit_code == 0
    assert from_fhir.stdout == from_yaml.stdout
    assert '"pain.severity=8"' in from_fhir.stdout
