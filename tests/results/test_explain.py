"""``hipkb explain``: HOW down to the case's findings, WHY NOT, the trace, and clean errors."""

from __future__ import annotations

import json
import re

import pytest
from samplekb import BONE_CASE, RED_FLAG_CASE, infer, write_sample_kb

from hipkb import api
from hipkb.knowledge.resources import example_cases
from hipkb.results import explain as ex

CASES = example_cases()


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    rules = write_sample_kb(tmp_path_factory.mktemp("explain"))
    return rules, api.load_kb(rules)


def _case_file(tmp_path, data, name="case.yaml"):
    import yaml

    path = tmp_path / name
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def _first_case_with(kb, reasoner, predicate):
    for path in CASES:
        result = api.run_case(reasoner, api.load_case(path, kb))
        if predicate(result):
            return path, result
    pytest.skip("no example case has what this test needs")


def test_how_top_hypothesis_unfolds_to_case_findings(kb, reasoner, cli):
    path, result = _first_case_with(kb, reasoner, lambda r: r["hypotheses"] and r["derived"])
    top = result["hypotheses"][0]
    out = cli("explain", path, "--how", top["id"])
    assert out.exit_code == 0, out.output
    first = out.stdout.splitlines()[0]
    assert top["id"] in first and top["band"] in first
    for item in top["support"] + top["against"]:
        assert item["rule"] in out.stdout
    # Every leaf is a finding the case gives; the tree bottoms out in the case.
    case = api.load_case(path, kb)
    inference = reasoner.infer(case)
    tree = ex.how(kb, inference, top["id"])
    leaves = ex.findings_under(tree)
    assert leaves
    known = inference.facts_known()
    assert all(fact in known for fact in leaves)
    for fact in leaves:
        assert f"{fact}  (case finding" in out.stdout


def test_how_derived_fact_triage_and_running(kb, reasoner, cli):
    path, result = _first_case_with(kb, reasoner, lambda r: r["derived"])
    derived = result["derived"][0]
    out = cli("explain", path, "--how", derived["fact"], "--how", "triage", "--how", "running")
    assert out.exit_code == 0, out.output
    for because in derived["because"]:
        assert because["rule"] in out.stdout
    assert f"triage={result['triage']['level']}" in out.stdout
    assert f"running={result['running']['advice']}" in out.stdout
    for rule in result["triage"]["because"] + result["running"]["because"]:
        assert rule in out.stdout


def test_default_explains_triage_running_and_the_top(kb, reasoner, cli):
    path, result = _first_case_with(kb, reasoner, lambda r: r["hypotheses"])
    out = cli("explain", path)
    assert out.exit_code == 0
    lines = [line for line in out.stdout.splitlines() if line and not line.startswith(("|", "`", " "))]
    assert lines[0].startswith("triage=") and lines[1].startswith("running=")
    assert lines[2].startswith(f"hypothesis.{result['hypotheses'][0]['id']}=")


def test_trace_lists_every_firing_in_order(kb, reasoner, cli):
    path, result = _first_case_with(kb, reasoner, lambda r: len(r["fired"]) > 2)
    out = cli("explain", path, "--trace")
    assert out.exit_code == 0
    steps = re.findall(r"^\s*(\d+)\. (\S+):", out.stdout, re.M)
    assert [(int(n), rule) for n, rule in steps] == [(f["step"], f["rule"]) for f in result["fired"]]
    for f in result["fired"]:
        assert f"asserted: {f['asserted']}" in out.stdout


def test_why_not_says_what_was_missing_and_what_counted_against(sample, tmp_path, cli):
    rules, _ = sample
    case = _case_file(tmp_path, {**BONE_CASE, "behaviour": {**BONE_CASE["behaviour"], "hopping": "pain_free"}})
    out = cli("explain", case, "--rules", rules, "--why-not", "gluteus_medius_tendinopathy",
              "--why-not", "lumbar_referred_pain")
    assert out.exit_code == 0, out.output
    gm, lumbar = out.stdout.split("lumbar_referred_pain:", 1)
    assert "Ruled out" in gm and "GM-LATERAL" in gm
    assert "pain.regions includes lateral_hip" in gm and "pain.regions=groin" in gm
    assert "Counted against" in gm and "GM-AGAINST-BONE" in gm and "load_response=bone" in gm
    assert "Missing" in lumbar and "neuro.numbness" in lumbar and "LUMBAR-NUMB" in lumbar


def test_why_not_data_for_a_hypothesis_outweighed(sample):
    _, kb = sample
    inference, _ = infer(kb, {"case_id": "x", "pain": {"regions": ["lateral_hip"]},
                              "behaviour": {"during_run": "worsens", "after_run": "lingers"}})
    info = ex.why_not(kb, inference, "gluteus_medius_tendinopathy")
    assert info["concluded"] is False and info["certainty"] is not None and info["certainty"] <= 0
    assert [e["rule"]["id"] for e in info["support"]] == ["GM-LATERAL"]
    assert [e["rule"]["id"] for e in info["against"]] == ["GM-AGAINST-BONE"]
    assert "outweighed" in info["verdict"]
    concluded = ex.why_not(kb, inference, "femoral_neck_bsi")
    assert concluded["concluded"] is True and "concluded" in concluded["verdict"]


def test_how_red_flag_and_a_conclusion_not_reached(sample, tmp_path, cli):
    rules, _ = sample
    case = _case_file(tmp_path, RED_FLAG_CASE)
    out = cli("explain", case, "--rules", rules, "--how", "possible_cauda_equina", "--how", "triage")
    assert out.exit_code == 0, out.output
    assert "red_flag=possible_cauda_equina" in out.stdout and "RF-CES" in out.stdout
    assert "neuro.saddle_numbness=yes  (case finding" in out.stdout
    assert "triage=emergency" in out.stdout and "TRIAGE-CES" in out.stdout
    out = cli("explain", case, "--rules", rules, "--how", "hip_flexor_strain")
    assert out.exit_code == 0
    assert "not concluded" in out.stdout and "history.mechanism" in out.stdout


@pytest.mark.parametrize("args, needle", [
    (("--how", "no_such_thing"), "unknown id"),
    (("--how", "femoral_nek_bsi"), "did you mean 'femoral_neck_bsi'"),
    (("--why-not", "triage"), "--why-not takes"),
    (("--how", "load_response=granite"), "no value 'granite'"),
])
def test_unknown_id_is_one_line_and_exit_2(cli, args, needle):
    out = cli("explain", CASES[0], *args)
    assert out.exit_code == 2
    assert out.stdout == ""
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0] and "Traceback" not in out.stderr


def test_an_unknown_id_lists_the_ids_there_are(cli, kb):
    line = cli("explain", CASES[0], "--how", "femoral_nek_bsi").stderr.strip()
    assert "unknown id (did you mean 'femoral_neck_bsi'?)" in line
    for hid in kb.hypotheses:
        assert hid in line
    for flag in kb.red_flags:
        assert flag in line
    assert "load_response=..." in line and "hipkb rules hypotheses" in line


def test_rules_hypotheses_lists_ids_with_labels(cli, kb):
    out = cli("rules", "hypotheses")
    assert out.exit_code == 0
    lines = out.stdout.strip().splitlines()
    assert len(lines) == len(kb.hypotheses)
    for line, hyp in zip(lines, kb.hypotheses.values(), strict=True):
        assert line.split()[0] == hyp.id and hyp.label in line
        assert line.endswith("[alarm]") == (hyp.id in kb.safety.alarm_hypotheses)
    data = json.loads(cli("rules", "hypotheses", "--format", "json").stdout)
    assert [(h["id"], h["label"]) for h in data] == [(h.id, h.label) for h in kb.hypotheses.values()]


def test_rules_show_and_references_name_the_seed_article_in_full(cli, kb):
    rule = next(r for r in kb.rules if r.source.startswith("seed:"))
    out = cli("rules", "show", rule.id).stdout
    assert "Rimmer S" in out and "Why does my hip hurt when I run?" in out
    refs = json.loads(cli("rules", "references", "--format", "json").stdout)
    assert [r["key"] for r in refs] == list(kb.references.entries)
    assert refs[0]["seed"] and "Run Potential Rehab & Performance" in refs[0]["reference"]


def test_resolve_accepts_the_spellings_results_use(sample):
    _, kb = sample
    inference, _ = infer(kb, BONE_CASE)
    assert ex.resolve(kb, inference, "hypothesis.femoral_neck_bsi=likely") == ("hypothesis", "femoral_neck_bsi")
    assert ex.resolve(kb, inference, "red_flag=night_pain") == ("red_flag", "night_pain")
    assert ex.resolve(kb, inference, "load_response") == ("derived", "load_response=bone")
    assert ex.resolve(kb, inference, "behaviour.during_run=worsens") == ("finding", "behaviour.during_run=worsens")
    with pytest.raises(ex.ExplainError):
        ex.resolve(kb, inference, "behaviour.during_run")


def test_how_tree_marks_repeats_instead_of_growing(sample):
    _, kb = sample
    inference, _ = infer(kb, BONE_CASE)
    tree = ex.how(kb, inference, "running")
    text = ex.format_how(tree)
    # load_response=bone feeds the hypothesis that feeds running advice; it is unfolded once.
    assert text.count("by LOAD-BONE:") == 1
