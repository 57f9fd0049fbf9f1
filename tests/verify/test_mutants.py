"""`hipkb check --mutants`: small changes to the rules, and whether the examples, expectations and properties notice."""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path

import pytest
import smallkb
import yaml
from paths import ROOT

from hipkb import api
from hipkb.engine.reasoner import Reasoner
from hipkb.load.inputs import CaseSource, expand
from hipkb.results.result import build_result
from hipkb.verify import mutants as mu

FACTS = ROOT / "facts"

EXAMPLES = {
    "lateral": {"runner": {"age": 30}, "pain": {"regions": ["lateral_hip"]},
                "exam": {"trochanter_palpation": "painful"}, "expect": {"top": ["gluteus_medius_tendinopathy"]}},
    "groin-walking": {"runner": {"age": 30}, "pain": {"regions": ["groin"]}, "behaviour": {"walking": "painful"},
                      "expect": {"triage_at_least": "urgent", "running": "stop"}},
    "fracture": {"pain": {"regions": ["groin"]}, "systemic": {"unable_to_bear_weight": "yes"},
                 "expect": {"triage_at_least": "emergency"}},
}
# Hip osteoarthritis first only with OA-GROIN's weight: 0.4 + 0.2 pooled (0.52) against 0.45 for the tendon.
OLDER_GROIN = {"runner": {"age": 60}, "pain": {"regions": ["groin"]}, "exam": {"trochanter_palpation": "painful"},
               "expect": {"top": ["hip_osteoarthritis"]}}


def _kb(tmp_path: Path, examples: dict[str, dict] | None = None) -> tuple[Path, Path]:
    rules = smallkb.write_kb(tmp_path / "rules")
    facts = tmp_path / "facts"
    (facts / "cases").mkdir(parents=True)
    shutil.copy(FACTS / "vocabulary.yaml", facts / "vocabulary.yaml")
    for name, case in (EXAMPLES if examples is None else examples).items():
        (facts / "cases" / f"{name}.yaml").write_text(yaml.safe_dump({"case_id": name, **case}))
    return rules, facts


def _mutants(cli, rules: Path, facts: Path, *extra: str) -> dict:
    result = cli("check", "--mutants", "--rules", rules, "--facts", facts, "--format", "json", "--jobs", "1", *extra)
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def _outcomes(report: dict) -> dict[str, dict]:
    found = {o["mutant"]: o for o in report["killed_by"]}
    found.update({o["mutant"]: o for group in report["survivors"].values() for o in group})
    return found


def test_each_operator_makes_its_mutants_and_leaves_the_rule_base_alone(tmp_path):
    kb = api.load_kb(smallkb.write_kb(tmp_path / "rules"))
    keys = {m.key for m in mu.mutations(kb)}
    assert {"drop-condition:FNBSI-WALKING:1", "drop-rule:RF-FRACTURE", "flip-weight:GMED-LATERAL",
            "flip-weight:GMED-AGAINST-WALKING", "lower-decision:TRIAGE-FNBSI:urgent->routine",
            "lower-decision:RUN-STOP-FNBSI:stop->reduce", "swap-value:GMED-TENDER:0:painful->pain_free",
            "swap-value:TRIAGE-FNBSI:0:possible->likely"} <= keys
    assert not any(k.startswith("lower-decision:TRIAGE-SELF-CARE") for k in keys)  # nothing below self-care
    assert {m.operator for m in mu.mutations(kb, ["flip-weight"])} == {"flip-weight"}
    flip = mu.mutate(kb, mu.Mutation("flip-weight", "GMED-LATERAL"))
    assert flip.by_id["GMED-LATERAL"].conclusion.cf == -0.5 and kb.by_id["GMED-LATERAL"].conclusion.cf == 0.5
    dropped = mu.mutate(kb, mu.Mutation("drop-condition", "FNBSI-WALKING", 1))
    assert [c.subject for c in dropped.by_id["FNBSI-WALKING"].conditions] == ["pain.regions"]
    assert "RF-FRACTURE" not in mu.mutate(kb, mu.Mutation("drop-rule", "RF-FRACTURE")).by_id
    assert len(dropped.rules) == len(kb.rules)


def test_examples_kill_mutants_and_every_survivor_is_listed_by_rule_file(cli, tmp_path):
    rules, facts = _kb(tmp_path)
    report = _mutants(cli, rules, facts, "--property-cases", "0")
    outcomes = _outcomes(report)
    assert report["format"] == "hipkb-mutants/1" and report["run"] == report["made"] == len(outcomes)
    killed = outcomes["flip-weight:GMED-LATERAL"]
    assert killed["status"] == "killed" and killed["reason"].startswith("lateral: expect: top:")
    survivor = outcomes["drop-rule:OA-GROIN"]  # no example is an older runner with groin pain
    assert survivor["status"] == "survived" and survivor["reason"] == "no case reaches it"
    assert list(report["survivors"]) == ["rules/rules.yaml"]
    assert report["score"] == round(report["killed"] / (report["killed"] + report["survived"]), 4)
    text = cli("check", "--mutants", "--rules", rules, "--facts", facts, "--jobs", "1", "--property-cases", "0")
    assert text.output.startswith(f"mutation score: {report['killed']}/{report['killed'] + report['survived']} killed")
    assert "rules/rules.yaml (" in text.output and "  drop-rule:OA-GROIN: OA-GROIN gone" in text.output


def test_an_example_written_for_a_survivor_kills_it(cli, tmp_path):
    rules, facts = _kb(tmp_path)
    before = _outcomes(_mutants(cli, rules, facts, "--operators", "drop-rule"))
    assert before["drop-rule:OA-GROIN"]["status"] == "survived"
    (facts / "cases" / "older-groin.yaml").write_text(yaml.safe_dump({"case_id": "older-groin", **OLDER_GROIN}))
    after = _outcomes(_mutants(cli, rules, facts, "--operators", "drop-rule"))
    assert after["drop-rule:OA-GROIN"]["status"] == "killed"
    assert after["drop-rule:OA-GROIN"]["reason"].startswith("older-groin: expect: top:")


def test_the_invariants_and_properties_kill_what_no_expectation_states(cli, tmp_path):
    bare = {name: {k: v for k, v in case.items() if k != "expect"} for name, case in EXAMPLES.items()}
    rules, facts = _kb(tmp_path, bare)
    outcomes = _outcomes(_mutants(cli, rules, facts, "--property-cases", "0"))
    assert "bsi-triage" in outcomes["lower-decision:TRIAGE-FNBSI:urgent->routine"]["reason"]
    assert "bsi-running" in outcomes["lower-decision:RUN-STOP-FNBSI:stop->reduce"]["reason"]
    # Evidence for a BSI turned against it goes unseen in the examples (none is painful on hopping) ...
    assert outcomes["flip-weight:FNBSI-HOP"]["status"] == "survived"
    # ... but adding a painful hop to one then lowers its triage: the monotonicity property sees it.
    seen = _outcomes(_mutants(cli, rules, facts))["flip-weight:FNBSI-HOP"]
    assert seen["status"] == "killed" and seen["reason"].startswith("monotonicity: adding behaviour.hopping=painful")


def test_worker_processes_give_what_one_process_gives(cli, tmp_path):
    rules, facts = _kb(tmp_path)
    one = _mutants(cli, rules, facts)
    two = json.loads(cli("check", "--mutants", "--rules", rules, "--facts", facts, "--format", "json",
                         "--jobs", "2").output)
    for report in (one, two):
        report.pop("seconds")
    assert one == two


def test_a_budget_bounds_the_run(cli, tmp_path):
    rules, facts = _kb(tmp_path)
    report = _mutants(cli, rules, facts, "--budget", "7")
    assert report["run"] == 7 < report["made"] and "7 of" in report["budget"]
    assert _mutants(cli, rules, facts, "--budget", "7")["killed_by"] == report["killed_by"]  # the same sample
    assert _mutants(cli, rules, facts, "--budget", "0s")["run"] == 0
    bad = cli("check", "--mutants", "--rules", rules, "--facts", facts, "--budget", "soon")
    assert bad.exit_code == 2 and "--budget" in bad.output
    low = cli("check", "--mutants", "--rules", rules, "--facts", facts, "--jobs", "1", "--fail-under", "0.99")
    assert low.exit_code == 1
    assert cli("check", "--budget", "5").exit_code == 2  # only with --mutants


def _changed(kb, mutant_kb, suite: mu.Suite) -> set[int]:
    """Brute force: the runs whose result differs under the mutant (in full: answers and rules fired; else what
    the property checks read of the engine's conclusions)."""
    base, other = Reasoner(kb), Reasoner(mutant_kb)

    def seen(reasoner, rule_base, run):
        inference = reasoner.infer(run.case)
        if not run.answers:
            return mu._light_answers(inference)
        # Checked in full: what the engine concluded, and the next questions where a check reads them.
        result = build_result(rule_base, inference)
        asked = [q["fact"] for q in result["next_questions"]] if run.asks_matter else []
        return mu._light_answers(inference), sorted({f.rule for f in inference.firings}), asked

    return {i for i, run in enumerate(suite.runs) if seen(base, kb, run) != seen(other, mutant_kb, run)}


def _drawn_suite(kb, count: int, seed: int, *known: dict) -> mu.Suite:
    """A suite of drawn cases (and *known* ones), each once checked in full and once as a property case."""
    from hipkb.testing.draws import draw_cases

    suite = mu.Suite(kb, properties=False)
    for data in [*known, *draw_cases(kb, count, seed=seed)]:
        suite._full(CaseSource(data["case_id"], text=json.dumps(data), kind="json"), None)
        suite._light(data["case_id"], data)
    return suite


@pytest.mark.parametrize("drop", [(), ("AVOID-HOP",)], ids=["as-is", "hop-asked"])
def test_only_runs_a_mutant_cannot_change_are_skipped_small_base(tmp_path, drop):
    # Without AVOID-HOP, a possible BSI leaves hopping askable: the next questions then matter to the checks.
    kb = api.load_kb(smallkb.write_kb(tmp_path / "rules", drop=drop))
    # A possible BSI with hopping unknown is in the suite whatever the draw.
    possible_bsi = {"case_id": "possible-bsi", "pain": {"regions": ["groin"]}, "behaviour": {"walking": "painful"}}
    suite = _drawn_suite(kb, 25, 4, possible_bsi)
    assert any(run.asks_matter for run in suite.runs) == bool(drop)
    for m in mu.mutations(kb):
        assert _changed(kb, mu.mutate(kb, m), suite) <= set(suite.affected(m)), m.key


def test_only_runs_a_mutant_cannot_change_are_skipped_shipped_base(kb):
    suite = _drawn_suite(kb, 12, 5)
    suite.runs += mu.Suite(kb, list(expand([str(FACTS / "cases")]))[::4], properties=False).runs
    for m in random.Random(11).sample(mu.mutations(kb), 6):
        assert _changed(kb, mu.mutate(kb, m), suite) <= set(suite.affected(m)), m.key


@pytest.mark.thorough
def test_only_runs_a_mutant_cannot_change_are_skipped_shipped_base_thoroughly(kb):
    suite = _drawn_suite(kb, 40, 6)
    suite.runs += mu.Suite(kb, list(expand([str(FACTS / "cases")])), properties=False).runs
    for m in random.Random(12).sample(mu.mutations(kb), 120):
        assert _changed(kb, mu.mutate(kb, m), suite) <= set(suite.affected(m)), m.key


def test_a_default_vote_outvoted_breaks_no_precedence_invariant(tmp_path):
    # A default rule votes only when no other rule of its kind has: a default "routine" beside a rule's
    # "self_care" is no triage below what a rule called for (the invariant once said it was).
    from hipkb.verify.invariants import advice_violations

    extra = [smallkb.rule("TRIAGE-ROUTINE-DEFAULT", {}, {"triage": "routine", "summary": "See someone.",
                                                         "default": True}),
             smallkb.rule("TRIAGE-SELF-CARE-GMED", {"hypothesis.gluteus_medius_tendinopathy": {"at_least": "possible"}},
                          {"triage": "self_care", "summary": "Manage the load."})]
    kb = api.load_kb(smallkb.write_kb(tmp_path / "rules", extra=extra))
    result = api.run_data({"pain": {"regions": ["lateral_hip"]}}, kb)
    assert result["triage"]["level"] == "self_care"
    assert "TRIAGE-ROUTINE-DEFAULT" in {f["rule"] for f in result["fired"]}
    assert advice_violations(kb, result) == []
