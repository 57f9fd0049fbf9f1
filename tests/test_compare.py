"""`hipkb compare`: the cases whose results differ under two rule bases, and the rules that made the difference."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import yaml

from hipkb import api
from hipkb.knowledge.rules import DATA_FILES
from hipkb.load.inputs import expand
from hipkb.results.compare import compare, rule_changes

CASE = {"case_id": "bsi", "pain": {"regions": ["groin"]},
        "behaviour": {"during_run": "worsens", "after_run": "lingers"}, "history": {"onset": "gradual"}}


def _variant(tmp_path: Path, rules_dir: Path) -> tuple[Path, str]:
    """A copy of the shipped rules with one rule that fires on CASE taken out; that rule's id."""
    kb = api.load_kb()
    fired = {f["rule"] for f in api.run_data(CASE, kb)["fired"]}
    # Take out a rule the case fires whose loss changes the ranking: the first evidence rule.
    result = api.run_data(CASE, kb)
    evidence = result["hypotheses"][0]["support"][0]["rule"]
    assert evidence in fired
    copy = tmp_path / "variant"
    shutil.copytree(rules_dir, copy)
    for path in copy.glob("*.yaml"):
        if path.name in DATA_FILES:
            continue
        data = yaml.safe_load(path.read_text())
        kept = [r for r in data["rules"] if r["id"] != evidence]
        if len(kept) != len(data["rules"]):
            # Keep the rule (so others that need its conclusion still load) but weaken it a lot.
            for r in data["rules"]:
                if r["id"] == evidence:
                    r["when"] = {**(r.get("when") or {}), "systemic.cancer_history": "yes"}
            path.write_text(yaml.safe_dump(data, sort_keys=False))
    return copy, evidence


def _cases(tmp_path: Path) -> Path:
    cases = tmp_path / "cases"
    cases.mkdir()
    (cases / "bsi.yaml").write_text(yaml.safe_dump(CASE))
    (cases / "minimal.yaml").write_text(yaml.safe_dump({"pain": {"regions": ["buttock"]}}))
    return cases


def test_identical_rule_bases_agree(cli, tmp_path, rules_dir):
    result = cli("compare", "--rules", rules_dir, "--rules", rules_dir, _cases(tmp_path))
    assert result.exit_code == 0
    assert "0 of 2 case(s) differ" in result.output


def test_a_changed_rule_shows_in_the_cases_it_touches(cli, tmp_path, rules_dir):
    variant, rule_id = _variant(tmp_path, rules_dir)
    cases = _cases(tmp_path)
    result = cli("compare", "--rules", rules_dir, "--rules", variant, cases)
    assert result.exit_code == 1
    assert "1 of 2 case(s) differ" in result.output
    assert f"rules changed: {rule_id}" in result.output
    assert f"fired only under A: {rule_id}" in result.output or rule_id in result.output
    report = json.loads(cli("compare", "--rules", rules_dir, "--rules", variant, cases, "--format", "json").output)
    assert report["format"] == "hipkb-compare/1" and report["differing"] == 1 and report["cases"] == 2
    (diff,) = report["diffs"]
    assert diff["case_id"] == "bsi"
    assert set(diff["changes"]) <= {"ranking", "triage", "running", "red_flags"} and diff["changes"]
    assert rule_id in diff["fired_only_a"]
    assert report["rules"]["changed"] == [rule_id]


def test_compare_as_a_library(tmp_path, rules_dir):
    variant, rule_id = _variant(tmp_path, rules_dir)
    kb_a, kb_b = api.load_kb(rules_dir), api.load_kb(variant)
    diffs = compare(kb_a, kb_b, list(expand([str(_cases(tmp_path))])))
    assert [d.case_id for d in diffs if d.differs] == ["bsi"]
    assert rule_changes(kb_a, kb_b) == {"only_a": [], "only_b": [], "changed": [rule_id]}


def test_compare_needs_two_rule_bases(cli, tmp_path, rules_dir):
    result = cli("compare", "--rules", rules_dir, _cases(tmp_path))
    assert result.exit_code == 2
    assert "exactly twice" in result.output


def test_a_bad_case_is_reported_not_fatal(cli, tmp_path, rules_dir):
    cases = _cases(tmp_path)
    (cases / "broken.yaml").write_text("pain: {regions: [nowhere]}\n")
    result = cli("compare", "--rules", rules_dir, "--rules", rules_dir, cases)
    assert result.exit_code == 1
    assert "broken" in result.output and "nowhere" in result.output
