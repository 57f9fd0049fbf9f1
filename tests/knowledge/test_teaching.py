"""Teaching: learning points as data, what would change the call, two cases side by side,
and reports that explain their own logic."""

from __future__ import annotations

import shutil

import pytest
import yaml
from paths import ROOT

from hipkb import api
from hipkb.errors import RuleError
from hipkb.knowledge.rules import DATA_FILES
from hipkb.knowledge.teaching import parse_teaching
from hipkb.load.case import validate
from hipkb.results.pair import compare_cases
from hipkb.results.whatif import Outcome, variants, what_if

CASES = sorted((ROOT / "facts" / "cases").glob("*.yaml"))
ADDED = ("slipped_capital_femoral_epiphysis", "apophyseal_avulsion", "hip_osteoarthritis",
         "adductor_related_groin_pain", "hip_fracture_after_fall", "septic_arthritis")
# Gluteal findings ranked first, and hopping pain that makes a femoral neck BSI possible (ranked third).
GLUTEAL_FIRST = {"pain": {"regions": ["lateral_hip"]},
                 "behaviour": {"lying_on_side": "painful", "hopping": "painful", "walking": "painful",
                               "during_run": "warms_up"},
                 "exam": {"trochanter_palpation": "painful", "single_leg_stance_30s": "painful"}}


def _case(kb, data, name="case"):
    return validate(data, kb.vocabulary, name, default_id=name, hypotheses=kb.hypotheses)


# -- learning points ---------------------------------------------------------

def test_every_hypothesis_of_the_kb_and_the_coming_ones_have_learning_points(kb):
    assert "teaching.yaml" in DATA_FILES
    assert set(kb.hypotheses) <= set(kb.teaching)
    assert set(ADDED) <= set(kb.teaching)
    for points in kb.teaching.values():
        assert points.discriminators and points.pitfall and points.source


def test_teaching_file_is_not_read_as_rules(kb, rules_dir):
    assert all(rule.file != str(rules_dir / "teaching.yaml") for rule in kb.rules)


def test_a_kb_without_teaching_still_works(tmp_path, rules_dir, facts_dir):
    copy = tmp_path / "rules"
    shutil.copytree(rules_dir, copy)
    (copy / "teaching.yaml").unlink()
    bare = api.load_kb(copy, facts_dir)
    assert bare.teaching == {}
    result = api.run_data({"pain": {"regions": ["groin"]}}, bare)
    assert result["hypotheses"]


T = "hipkb-teaching/1"


@pytest.mark.parametrize("data,where", [
    ({"format": "x"}, "format"),
    ({"format": "hipkb-teaching/1", "hypotheses": []}, "hypotheses"),
    ({"format": "hipkb-teaching/1", "hypotheses": {"Bad-Id": {}}}, "hypotheses.Bad-Id"),
    ({"format": T, "hypotheses": {"x": {"discriminators": ["a"], "source": "s"}}}, "hypotheses.x.pitfall"),
    ({"format": T, "hypotheses": {"x": {"discriminators": [{"a": "b"}], "pitfall": "p", "source": "s"}}},
     "hypotheses.x.discriminators[0]"),
    ({"format": T, "hypotheses": {"x": {"discriminators": ["a"], "pitfall": "p", "source": "s",
                                                       "extra": 1}}}, "hypotheses.x.extra"),
])
def test_bad_teaching_file_is_one_line_naming_the_field(data, where):
    with pytest.raises(RuleError) as caught:
        parse_teaching(data, "teaching.yaml")
    assert caught.value.source == "teaching.yaml" and caught.value.where == where
    assert "\n" not in str(caught.value)


def test_bad_teaching_file_stops_the_cli_with_one_line(cli, tmp_path, rules_dir):
    copy = tmp_path / "rules"
    shutil.copytree(rules_dir, copy)
    (copy / "teaching.yaml").write_text("format: hipkb-teaching/1\nhypotheses: {x: {pitfall: p}}\n")
    result = cli("run", "--rules", copy, ROOT / "facts" / "cases" / "minimal.yaml")
    assert result.exit_code == 2 and "teaching.yaml: hypotheses.x" in result.output


# -- what would change the call -------------------------------------------------

@pytest.mark.parametrize("path", CASES[::3], ids=lambda p: p.stem)
def test_every_change_listed_changes_the_call_when_applied(kb, reasoner, path):
    case = api.load_case(path, kb)
    base = Outcome.of(reasoner.infer(case))
    answer = what_if(reasoner, case)
    assert answer["baseline"] == {"triage": base.triage, "running": base.running, "top": base.top}
    for change in answer["changes"]:
        data = case.to_data()
        group, _, name = change["fact"].partition(".")
        data.setdefault(group, {})[name] = change["to"]
        outcome = Outcome.of(reasoner.infer(_case(kb, data)))
        for aspect, effect in change["effects"].items():
            assert getattr(outcome, aspect) == effect["to"] != effect["from"]
        assert change["kind"] == ("answer" if case.get(change["fact"]) is None else "change")


def test_what_if_is_deterministic_and_safety_first(kb, reasoner):
    case = _case(kb, {"pain": {"regions": ["buttock"]}})
    first = what_if(reasoner, case)
    assert what_if(reasoner, case) == first
    ranks = [min(("triage", "running", "top").index(a) for a in c["effects"]) for c in first["changes"]]
    assert ranks == sorted(ranks)
    hop = next(c for c in first["changes"] if c["fact"] == "behaviour.hopping" and c["to"] == "painful")
    assert hop["effects"]["triage"] == {"from": "routine", "to": "urgent"}


def test_what_if_tries_about_as_many_variants_as_the_vocabulary_has_values(kb):
    case = _case(kb, {"pain": {"regions": ["groin"]}})
    tried = list(variants(kb, case))
    values = sum(max(len(f.values), 1) for f in kb.vocabulary.fields.values())
    # A number is tried on each side of every bound a rule gives it (the Triad's BMI, menarche age ...).
    bounds = {(c.subject, b) for r in kb.rules for c in r.conditions if c.op == "range" for b in c.values
              if b is not None}
    assert 0 < len(tried) <= values + 2 * len(bounds) + 20
    assert len({(v.path, v.after) for v in tried}) == len(tried)
    assert all(v.path != "runner.sex" for v in tried) or any(
        c.subject == "runner.sex" for r in kb.rules for c in r.conditions)


# -- two cases side by side ---------------------------------------------------

def test_side_by_side_names_the_findings_behind_each_change(kb, reasoner):
    a = _case(kb, {"pain": {"regions": ["groin"]}}, "a")
    b = _case(kb, {"pain": {"regions": ["groin"]}, "behaviour": {"hopping": "painful"}}, "b")
    answer = compare_cases(reasoner, a, b)
    assert [f["fact"] for f in answer["findings"]] == ["behaviour.hopping"]
    changes = {c["what"]: c for c in answer["conclusions"]}
    assert changes["triage"]["b"] == "urgent" and changes["triage"]["because"] == ["behaviour.hopping"]
    assert changes["running"]["b"] == "stop"
    assert compare_cases(reasoner, a, a)["conclusions"] == []


# -- reports that explain their own logic -------------------------------------

def test_report_says_when_triage_follows_a_hypothesis_not_ranked_first(kb, reasoner):
    case = _case(kb, GLUTEAL_FIRST)
    result = api.run_case(reasoner, case)
    assert result["hypotheses"][0]["id"] == "gluteus_medius_tendinopathy"
    assert result["triage"]["level"] == "urgent"
    for fmt in ("md", "txt", "html"):
        text = " ".join(api.report(reasoner, case, fmt).split())
        label = kb.hypotheses["femoral_neck_bsi"].label
        assert (f"The triage (urgent) and the running advice (stop) follow {label}, "
                "ranked 2 (possible), not the top-ranked Gluteus medius tendinopathy") in text
        assert text.count("ranked 2 (possible)") == 1  # one reason for both decisions, said once
        assert "safety first" in text
        assert "not a probability" in text


def test_report_without_a_safety_override_says_nothing_of_it(kb, reasoner):
    case = api.load_case(ROOT / "facts" / "cases" / "fnbsi-classic.yaml", kb)
    assert "not the top-ranked" not in api.report(reasoner, case, "md")


def test_educator_report_has_what_if_and_learning_points(kb, reasoner):
    case = api.load_case(ROOT / "facts" / "cases" / "bsi-looks-like-bursitis.yaml", kb)
    for fmt, heading in (("md", "### What would change the call"), ("txt", "What would change the call\n---"),
                         ("html", "<h3>What would change the call</h3>")):
        text = api.report(reasoner, case, fmt, audience="educator")
        assert heading in text
        assert "Classic pitfall" in text
        assert kb.teaching["femoral_neck_bsi"].pitfall.split()[0] in text
    assert "What would change the call" not in api.report(reasoner, case, "md")


def test_why_not_list_keeps_conditions_with_their_rules(kb, reasoner):
    # Every "ruled out" entry is one item: its rule ids and every condition that failed.
    case = api.load_case(ROOT / "facts" / "cases" / "bsi-looks-like-bursitis.yaml", kb)
    text = api.report(reasoner, case, "txt", audience="educator")
    section = text.split("Why not the others\n---")[1]
    items = [" ".join(block.split()) for block in section.split("\n    - ")[1:]]
    ruled = [i for i in items if " needs " in i and ": needs " in i]
    assert ruled
    for item in ruled:
        ids, _, conditions = item.partition(": needs ")
        assert all(part.strip().replace("-", "").isalnum() and part.strip().isupper() for part in ids.split(","))
        assert "the case says" in conditions or "not concluded" in conditions
    # The two-condition group of PHT-HILLS stays on one item.
    hills = [i for i in ruled if i.startswith("PHT-HILLS")]
    assert hills and "added_hills" in hills[0] and "pain.regions" in hills[0]
    data = yaml.safe_load((ROOT / "rules" / "teaching.yaml").read_text())
    assert data["format"] == "hipkb-teaching/1"
