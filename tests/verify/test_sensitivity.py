"""`hipkb sensitivity`: each weight and band threshold moved a step each way; the answers that hang on them."""

from __future__ import annotations

import json
from pathlib import Path

import smallkb
import yaml

from hipkb import api
from hipkb.engine.reasoner import Reasoner
from hipkb.knowledge.kinds import Kind
from hipkb.load.case import validate
from hipkb.verify import sensitivity

PLANTED = smallkb.rule("PLANTED-GROIN-OA", {"pain.regions": {"any": ["groin", "buttock"]}},
                       {"supports": "hip_osteoarthritis", "weight": 0.3})

CASES = [
    {"case_id": "groin-young", "runner": {"age": 30}, "pain": {"regions": ["groin"]}},
    {"case_id": "groin-walking", "runner": {"age": 30}, "pain": {"regions": ["groin"]},
     "behaviour": {"walking": "painful"}},
    {"case_id": "groin-tender", "runner": {"age": 30}, "pain": {"regions": ["groin"]},
     "exam": {"trochanter_palpation": "painful"}},
    {"case_id": "lateral", "runner": {"age": 30}, "pain": {"regions": ["lateral_hip"]}},
    {"case_id": "buttock <b>", "pain": {"regions": ["buttock"]}},
    {"case_id": "older-lateral", "runner": {"age": 60}, "pain": {"regions": ["lateral_hip"]},
     "exam": {"trochanter_palpation": "painful"}},
]


def _planted(tmp_path: Path) -> tuple[Path, Path]:
    rules = smallkb.write_kb(tmp_path / "rules", extra=[PLANTED])
    cases = tmp_path / "cases"
    cases.mkdir()
    for index, case in enumerate(CASES):
        (cases / f"case-{index}.yaml").write_text(yaml.safe_dump(case))
    return rules, cases


def test_a_planted_fragile_rule_is_named_first(cli, tmp_path):
    # A weight of exactly 0.3 puts hip osteoarthritis on the edge of "possible", which
    # decides triage and running advice: a step down changes both, wherever the rule fires.
    rules, cases = _planted(tmp_path)
    result = cli("sensitivity", cases, "--rules", rules, "--format", "json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    first = report["rules"][0]
    assert first["id"] == "PLANTED-GROIN-OA"
    assert first["down"]["to"] == 0.25 and first["down"]["triage"] == 3 and first["down"]["running"] == 3
    assert first["up"]["triage"] == 0 and first["cases"] == 3
    assert {c["case"] for c in first["down"]["changed"]} == {"groin-young", "groin-tender", "buttock <b>"}
    assert first["changes"] > max(r["changes"] for r in report["rules"][1:])
    # The threshold it sits on is as fragile; thresholds are listed apart.
    possible = next(t for t in report["thresholds"] if t["id"] == "possible")
    assert possible["up"]["triage"] == 3 and possible["down"]["triage"] == 0
    text = cli("sensitivity", cases, "--rules", rules).output
    assert "   1. PLANTED-GROIN-OA (weight 0.3): 6 answer(s) in 3 case(s)" in text


def test_worker_processes_give_what_one_process_gives(cli, tmp_path):
    rules, cases = _planted(tmp_path)
    args = ("sensitivity", cases, "--rules", rules, "--format", "json", "--step", "0.1")
    assert cli(*args).output == cli(*args, "--jobs", "2").output


def test_the_heat_map_is_svg_of_rules_by_cases_with_case_text_escaped(cli, tmp_path):
    rules, cases = _planted(tmp_path)
    out = tmp_path / "map.svg"
    assert cli("sensitivity", cases, "--rules", rules, "--format", "svg", "-o", out).exit_code == 0
    svg = out.read_text()
    assert svg.startswith("<svg") and svg.rstrip().endswith("</svg>")
    assert "PLANTED-GROIN-OA" in svg and "band possible" in svg
    assert "buttock &lt;b&gt;" in svg and "<b>" not in svg
    markdown = cli("sensitivity", cases, "--rules", rules, "--format", "md").output
    assert "| 1 | PLANTED-GROIN-OA |" in markdown.replace("\\_", "_") and "&lt;b&gt;" in markdown


def test_generated_cases_are_drawn_the_same_for_the_same_seed(cli, tmp_path):
    rules, _ = _planted(tmp_path)
    args = ("sensitivity", "--rules", rules, "--generated", "40", "--seed", "2", "--format", "json")
    first = json.loads(cli(*args).output)
    assert first["cases"] == 40 and first == json.loads(cli(*args).output)
    assert first["rules"][0]["id"] == "PLANTED-GROIN-OA"


def test_variants_move_each_evidence_weight_and_threshold_within_bounds(tmp_path):
    kb = api.load_kb(smallkb.write_kb(tmp_path / "rules", weights={"OA-GROIN": 0.02}))
    found = sensitivity.variants(kb, 0.05)
    evidence = [r for r in kb.rules if r.conclusion.kind in (Kind.SUPPORTS, Kind.AGAINST)]
    assert {v.target for v in found if v.what == "weight"} == {r.id for r in evidence}
    low = [v for v in found if v.target == "OA-GROIN"]
    assert sorted(v.new for v in low) == [0.01, 0.07]  # never below 0.01
    assert [(v.target, v.new) for v in found if v.what == "threshold"] == \
        [("likely", 0.65), ("likely", 0.55), ("possible", 0.35), ("possible", 0.25)]
    moved, bands = sensitivity.apply(kb, next(v for v in found if v.target == "OA-AGE" and v.direction == "up"))
    assert bands is None and moved.by_id["OA-AGE"].conclusion.weight == 0.45
    assert kb.by_id["OA-AGE"].conclusion.weight == 0.4  # the knowledge base itself is left as it was


def test_a_reasoner_can_be_given_other_band_thresholds(tmp_path):
    kb = api.load_kb(smallkb.write_kb(tmp_path / "rules"))
    case = validate({"runner": {"age": 60}, "pain": {"regions": ["lateral_hip"]}}, kb.vocabulary, "t")
    usual = Reasoner(kb).infer(case)
    strict = Reasoner(kb, bands=(0.7, 0.45)).infer(case)
    assert usual.scores["hip_osteoarthritis"].band == "possible" and usual.triage.value == "routine"
    assert strict.scores["hip_osteoarthritis"].band == "unlikely" and strict.triage.value == "self_care"
    assert usual.scores["hip_osteoarthritis"].certainty == strict.scores["hip_osteoarthritis"].certainty
