"""`hipkb compare`: the cases whose results differ under two rule bases, and the rules that made the difference."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import smallkb
import yaml
from paths import ROOT

from hipkb import api
from hipkb.knowledge.rules import DATA_FILES
from hipkb.load.inputs import expand
from hipkb.results.compare import KINDS, compare, diff_outlines, outline, rule_changes

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
    assert set(diff["changes"]) <= set(KINDS) and diff["changes"] and diff["kinds"] == list(diff["changes"])
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
    nothing = cli("compare", "--rules", rules_dir, "--rules", rules_dir)
    assert nothing.exit_code == 2 and "give CASES, --generated N, or both" in nothing.output


def test_a_bad_case_is_reported_not_fatal(cli, tmp_path, rules_dir):
    cases = _cases(tmp_path)
    (cases / "broken.yaml").write_text("pain: {regions: [nowhere]}\n")
    result = cli("compare", "--rules", rules_dir, "--rules", rules_dir, cases)
    assert result.exit_code == 1
    assert "broken" in result.output and "nowhere" in result.output


# -- every change, on small rule bases written for the test ---------------------------

LATERAL = {"case_id": "lateral", "runner": {"age": 60}, "pain": {"regions": ["lateral_hip"]},
           "exam": {"trochanter_palpation": "painful"}}
GROIN = {"case_id": "groin", "runner": {"age": 25}, "pain": {"regions": ["groin"]},
         "behaviour": {"walking": "painful"}}


def _pair(tmp_path: Path, **weights: float) -> tuple[Path, Path]:
    """Rule base A, and B with some evidence weights moved (rule id with _ for -: OA_AGE=0.25)."""
    a = smallkb.write_kb(tmp_path / "a")
    b = smallkb.write_kb(tmp_path / "b", weights={k.replace("_", "-"): v for k, v in weights.items()})
    return a, b


def _case_dir(tmp_path: Path, *cases: dict) -> Path:
    folder = tmp_path / "cases"
    folder.mkdir(exist_ok=True)
    for case in cases:
        (folder / f"{case['case_id']}.yaml").write_text(yaml.safe_dump(case))
    return folder


def test_moved_weights_show_every_case_and_hypothesis_they_move(cli, tmp_path):
    # The report: two weights moved, no ranking, triage or red flag changes in most cases,
    # and compare said nothing. Now the certainties, bands and the rules that stopped firing show.
    a, b = _pair(tmp_path, GMED_TENDER=0.05, OA_AGE=0.25)
    cases = _case_dir(tmp_path, LATERAL, GROIN)
    result = cli("compare", "--rules", a, "--rules", b, cases)
    assert result.exit_code == 1
    text = result.output
    assert "lateral (" in text and "groin (" not in text
    assert "band: gluteus_medius_tendinopathy likely -> possible, hip_osteoarthritis possible -> unlikely" in text
    assert "gluteus_medius_tendinopathy 0.725 -> 0.525" in text and "hip_osteoarthritis 0.4 -> 0.25" in text
    assert "fired only under A: RUN-REDUCE-OA, TRIAGE-OSTEOARTHRITIS" in text
    assert "fired, but written differently: GMED-TENDER, OA-AGE" in text
    assert text.rstrip().splitlines()[-1] == "1 of 2 case(s) differ: triage 1, running 1, band 1, certainty 1, fired 1"

    report = json.loads(cli("compare", "--rules", a, "--rules", b, cases, "--format", "json", "--all").output)
    assert report["summary"] == {"triage": 1, "running": 1, "red_flags": 0, "referrals": 0, "exclusions": 0,
                                 "ranking": 0, "band": 1, "certainty": 1, "fired": 1, "questions": 0}
    lateral, groin = sorted(report["diffs"], key=lambda d: d["case_id"] != "lateral")
    assert lateral["kinds"] == ["triage", "running", "band", "certainty", "fired"]
    assert lateral["changes"]["triage"] == {"a": "routine", "b": "self_care"}
    assert lateral["changes"]["certainty"] == {"a": {"gluteus_medius_tendinopathy": 0.725, "hip_osteoarthritis": 0.4},
                                               "b": {"gluteus_medius_tendinopathy": 0.525, "hip_osteoarthritis": 0.25}}
    moved = {h["id"]: h for h in lateral["hypotheses"]}
    assert moved["hip_osteoarthritis"]["band"] == ["possible", "unlikely"]
    assert moved["gluteus_medius_tendinopathy"]["rank"] == [1, 1]
    assert lateral["fired_only_a"] == ["RUN-REDUCE-OA", "TRIAGE-OSTEOARTHRITIS"] and lateral["fired_only_b"] == []
    assert lateral["changed_rules"] == ["GMED-TENDER", "OA-AGE"]
    # A case that agrees carries the same fields, empty.
    assert groin["differs"] is False and groin["changes"] == {} and groin["hypotheses"] == []
    assert set(groin) == set(lateral)


def test_a_certainty_within_the_tolerance_is_no_change_but_a_band_always_is(cli, tmp_path):
    a, b = _pair(tmp_path, GMED_TENDER=0.05, OA_AGE=0.25)
    cases = _case_dir(tmp_path, LATERAL)
    report = json.loads(cli("compare", "--rules", a, "--rules", b, cases, "--format", "json",
                            "--tolerance", "0.25").output)
    (diff,) = report["diffs"]
    assert "certainty" not in diff["kinds"] and "band" in diff["kinds"]
    assert {h["id"] for h in diff["hypotheses"]} == {"gluteus_medius_tendinopathy", "hip_osteoarthritis"}
    # Within the tolerance and in the same band: nothing to say.
    a2, b2 = _pair(tmp_path / "near", OA_AGE=0.38)
    quiet = cli("compare", "--rules", a2, "--rules", b2, cases, "--tolerance", "0.05")
    assert quiet.exit_code == 0 and "0 of 1 case(s) differ" in quiet.output
    loud = cli("compare", "--rules", a2, "--rules", b2, cases)
    assert loud.exit_code == 1 and "hip_osteoarthritis 0.4 -> 0.38" in loud.output


def _result(**parts) -> dict:
    base = {"triage": {"level": "urgent"}, "running": {"advice": "stop"}, "red_flags": [], "referrals": [],
            "hypotheses": [{"id": "femoral_neck_bsi", "certainty": 0.4, "band": "possible"}], "fired": [],
            "next_questions": []}
    return {**base, **parts}


def test_exclusion_status_is_compared_where_results_carry_it():
    with_a = _result(exclusions=[{"id": "femoral_neck_bsi", "status": "suspected"},
                                 {"id": "pelvic_bsi", "status": "not_excluded"}])
    with_b = _result(exclusions=[{"id": "femoral_neck_bsi", "status": "suspected"},
                                 {"id": "pelvic_bsi", "status": "excluded"}])
    diff = diff_outlines("x", "x", outline(with_a), outline(with_b))
    assert diff.kinds == ["exclusions"]
    assert diff.changes["exclusions"] == {"a": {"pelvic_bsi": "not_excluded"}, "b": {"pelvic_bsi": "excluded"}}
    # Results without the key (older knowledge bases) compare as before.
    assert not diff_outlines("x", "x", outline(_result()), outline(_result())).changes
    gone = diff_outlines("x", "x", outline(with_a), outline(_result()))
    assert gone.changes["exclusions"]["b"] == {"femoral_neck_bsi": None, "pelvic_bsi": None}


def test_worker_processes_give_what_one_process_gives(cli, tmp_path):
    a, b = _pair(tmp_path, GMED_TENDER=0.05, FNBSI_WALKING=0.2)
    cases = ROOT / "facts" / "cases"
    args = ("compare", "--rules", a, "--rules", b, cases, "--format", "json", "--all")
    one, two = cli(*args), cli(*args, "--jobs", "2")
    assert one.exit_code == two.exit_code == 1
    assert one.output == two.output
    assert json.loads(one.output)["differing"] > 0


def test_generated_cases_come_down_to_minimal_case_files(cli, tmp_path):
    from hipkb.results.compare import Comparer
    from hipkb.verify.invariants import _smaller

    a, b = _pair(tmp_path, OA_AGE=0.25)
    out = tmp_path / "found"
    args = ("compare", "--rules", a, "--rules", b, "--generated", "80", "--seed", "5")
    first = cli(*args, "-o", out)
    assert first.exit_code == 1
    assert "generated: 80 case(s) drawn (seed 5)" in first.output
    assert cli(*args, "-o", tmp_path / "again").output == first.output  # the same draw, the same answer
    files = sorted(out.glob("difference-*.yaml"))
    assert files and "difference-1 (from " in first.output
    kb_a, kb_b = api.load_kb(a), api.load_kb(b)
    comparer = Comparer(kb_a, kb_b)
    for path in files:
        case = yaml.safe_load(path.read_text())
        assert path.read_text().startswith("# A and B differ here")
        diff = comparer.data(case)
        assert diff.differs and "hip_osteoarthritis" in {h["id"] for h in diff.hypotheses}
        # Minimal: without any one of its findings, the bases agree on what made it differ.
        bare = {k: v for k, v in case.items() if k != "case_id"}
        kind = diff.kinds[0]
        for smaller in _smaller(bare, kb_a.vocabulary):
            assert kind not in comparer.data(smaller).changes
    report = json.loads(cli(*args, "--format", "json").output)["generated"]
    assert report["drawn"] == 80 and report["differing"] >= len(report["minimal"]) >= 1
    assert report["by_kind"]["certainty"] == report["differing"]
