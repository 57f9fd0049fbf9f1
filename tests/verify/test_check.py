"""`hipkb check`: each anomaly class is caught on a small broken rule set; the shipped KB is clean."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, settings
from paths import ROOT

from hipkb.verify import verify
from hipkb.verify.logic import Expander, implies, satisfiable_on

BROKEN = ROOT / "tests" / "broken_kbs"

# anomaly directory -> (finding kind, rule ids the finding must name, subject it must name)
ANOMALIES = {
    "unknown_fact": ("load-error", {"BROKEN-UNKNOWN-FACT"}, ""),
    "unknown_value": ("load-error", {"BROKEN-UNKNOWN-VALUE"}, ""),
    "duplicate_id": ("load-error", {"FNBSI-LOAD"}, ""),
    "contradiction": ("never-fires", {"BROKEN-CONTRADICTION"}, ""),
    "blocked_producer": ("never-fires", {"BROKEN-BLOCKED"}, ""),
    "unproduced_derived": ("unproduced-derived", set(), "nerve_symptoms"),
    "unused_derived": ("unused-derived", {"BROKEN-UNUSED"}, "training_error"),
    "redundant": ("redundant", {"BROKEN-REDUNDANT", "RF-INFECTION"}, ""),
    "conflict": ("conflict", {"BROKEN-RUN-CONTINUE", "RUN-STOP-RED-FLAG"}, ""),
    "evidence_conflict": ("conflict", {"BROKEN-AGAINST-BSI", "FNBSI-LOAD"}, ""),
    "cycle": ("cycle", {"BROKEN-CYCLE-A", "BROKEN-CYCLE-B"}, ""),
    "unreachable_hypothesis": ("unreachable-hypothesis", set(), "pelvic_bsi"),
    "red_flag_ignored": ("red-flags-ignored", {"RF-INFECTION"}, "possible_infection"),
    "unsourced": ("unsourced", {"BROKEN-UNSOURCED"}, ""),
}


def check_json(cli, *args) -> tuple[int, dict]:
    result = cli("check", *args, "--format", "json")
    return result.exit_code, json.loads(result.output)


def test_every_broken_kb_has_a_test():
    assert {p.name for p in BROKEN.iterdir() if (p / "kb.yaml").is_file()} >= set(ANOMALIES)


@pytest.mark.parametrize("name", sorted(ANOMALIES))
def test_check_catches_each_anomaly_class(cli, name):
    kind, rules, subject = ANOMALIES[name]
    code, report = check_json(cli, "--rules", BROKEN / name, "--no-cases")
    assert code == 1
    assert report["format"] == "hipkb-check/1" and report["ok"] is False
    matching = [f for f in report["findings"] if f["kind"] == kind and rules <= set(f["rules"])
                and (not subject or f.get("subject") == subject)]
    assert matching, f"no {kind} finding naming {rules or subject}: {report['findings']}"
    assert all(f["message"] and "\n" not in f["message"] for f in report["findings"])


def test_a_source_must_name_a_publication(cli, tmp_path):
    _, report = check_json(cli, "--rules", BROKEN / "unsourced", "--no-cases")
    unsourced = {f["rules"][0]: f for f in report["findings"] if f["kind"] == "unsourced"}
    assert set(unsourced) == {"BROKEN-UNSOURCED", "BROKEN-UNLISTED"}
    assert "'knowledge.md §7 (severe pain)', a document the reader cannot get" in (
        unsourced["BROKEN-UNSOURCED"]["message"])
    assert "'Nobody et al., Unknown J 1999 (not in the table)', which references.yaml does not hold" in (
        unsourced["BROKEN-UNLISTED"]["message"])
    assert all(f["severity"] == "error" for f in unsourced.values())
    # A reference without its title is a note: it names a publication, a reader could not yet find it.
    [note] = [f for f in report["findings"] if f["kind"] == "incomplete-reference"]
    assert note["severity"] == "info" and note["subject"] == "references.vague"
    # Without a references table only a document nobody can get is refused.
    rules = tmp_path / "rules"
    shutil.copytree(BROKEN / "unsourced", rules)
    (rules / "references.yaml").unlink()
    _, report = check_json(cli, "--rules", rules, "--no-cases")
    assert [f["rules"] for f in report["findings"] if f["kind"] == "unsourced"] == [["BROKEN-UNSOURCED"]]


def test_sources_of_the_manifest_are_checked_too(cli, tmp_path, rules_dir):
    rules = tmp_path / "rules"
    shutil.copytree(rules_dir, rules)
    manifest = rules / "kb.yaml"
    text = manifest.read_text(encoding="utf-8")
    manifest.write_text(text.replace('source: "NICE NG226 Osteoarthritis in over 16s, 2022"',
                                     'source: "our notes.md, section 2"', 1), encoding="utf-8")
    _, report = check_json(cli, "--rules", rules, "--no-cases")
    subjects = {f.get("subject") for f in report["findings"] if f["kind"] == "unsourced"}
    assert "hypotheses.hip_osteoarthritis" in subjects


def test_evidence_on_different_findings_is_weighing_not_conflict(cli):
    _, report = check_json(cli, "--rules", BROKEN / "evidence_conflict", "--no-cases")
    conflicts = [f["rules"] for f in report["findings"] if f["kind"] == "conflict"]
    assert conflicts == [["BROKEN-AGAINST-BSI", "FNBSI-LOAD"]]


def test_load_errors_name_the_file_and_are_all_reported(cli, tmp_path):
    rules = tmp_path / "rules"
    shutil.copytree(BROKEN / "unknown_fact", rules)
    # A second broken file: both errors are reported, not only the first.
    shutil.copy(BROKEN / "unknown_value" / "rules.yaml", rules / "more.yaml")
    (rules / "more.yaml").write_text((rules / "more.yaml").read_text().replace("- id: ", "- id: X"))
    code, report = check_json(cli, "--rules", rules)
    assert code == 1
    errors = [f for f in report["findings"] if f["kind"] == "load-error"]
    assert {r for f in errors for r in f["rules"]} >= {"BROKEN-UNKNOWN-FACT", "XBROKEN-UNKNOWN-VALUE"}
    assert all(f["file"].endswith(".yaml") for f in errors)
    assert any("did you mean 'behaviour.hopping'" in f["message"] for f in errors)


def test_text_report_shows_rule_ids_and_one_line_each(cli):
    result = cli("check", "--rules", BROKEN / "blocked_producer", "--no-cases")
    assert result.exit_code == 1
    line = next(x for x in result.output.splitlines() if "never-fires" in x)
    assert "BROKEN-BLOCKED" in line and "behaviour.during_run" in line and "LOAD-BONE" in line
    assert result.output.splitlines()[0].startswith("FAILED: ")  # the verdict and the counts first


def test_the_verdict_comes_first_and_allowed_findings_take_one_line(cli, tmp_path):
    rules = tmp_path / "rules"
    shutil.copytree(BROKEN / "conflict", rules)
    manifest = yaml.safe_load((rules / "kb.yaml").read_text())
    manifest["verify"] = {"allow": [
        {"finding": "conflict", "rules": ["BROKEN-RUN-CONTINUE"], "reason": "intended here"},
        {"finding": "unread-field", "reason": "this small base reads few fields"}]}
    (rules / "kb.yaml").write_text(yaml.safe_dump(manifest))
    result = cli("check", "--rules", rules, "--no-cases")
    lines = result.output.splitlines()
    assert result.exit_code == 0 and lines[0] == "ok: 0 error(s), 0 warning(s), 0 note(s)"
    allowed = [line for line in lines if line.startswith("allowed by kb.yaml verify.allow: ")]
    assert len(allowed) == 1 and allowed[0].endswith("; --verbose lists them")
    kinds = [f["kind"] for f in json.loads(cli("check", "--rules", rules, "--no-cases", "--format", "json").output)
             ["allowed"]]
    count, conflicts = len(kinds), kinds.count("conflict")
    assert conflicts and allowed[0].startswith(
        f"allowed by kb.yaml verify.allow: {count} (unread-field {count - conflicts}, conflict {conflicts})")
    assert not any("intended here" in line for line in lines)
    verbose = cli("check", "--rules", rules, "--no-cases", "--verbose").output.splitlines()
    assert verbose[0] == lines[0]
    listed = [line for line in verbose if line.startswith("  conflict [") or line.startswith("  unread-field [")]
    assert len(listed) == count and any("intended here" in line for line in listed)


def test_the_shipped_knowledge_base_is_clean(cli):
    result = cli("check", "--format", "json")
    report = json.loads(result.output)
    problems = [f"{f['kind']} {f['rules']}: {f['message']}" for f in report["findings"]
                if f["severity"] != "info"]
    assert result.exit_code == 0, "\n".join(problems)
    assert report["ok"] is True
    assert report["stats"]["cases"] > 0 and report["stats"]["expect_failed"] == 0


def _facts_with(tmp_path: Path, facts_dir: Path, cases: dict[str, dict]) -> Path:
    facts = tmp_path / "facts"
    (facts / "cases").mkdir(parents=True)
    shutil.copy(facts_dir / "vocabulary.yaml", facts / "vocabulary.yaml")
    for name, data in cases.items():
        (facts / "cases" / f"{name}.yaml").write_text(yaml.safe_dump(data))
    return facts


BSI_CASE = {"pain": {"regions": ["groin"]}, "behaviour": {"during_run": "worsens"}}


def test_expect_blocks_run_as_regression_tests(cli, tmp_path, facts_dir):
    facts = _facts_with(tmp_path, facts_dir, {
        "holds": {**BSI_CASE, "expect": {"top": ["femoral_neck_bsi"], "triage_at_least": "urgent",
                                         "running": "stop"}},
        "fails": {**BSI_CASE, "expect": {"top": ["gluteus_medius_tendinopathy"], "excludes": ["femoral_neck_bsi"],
                                         "triage_at_least": "emergency", "running": "continue_as_tolerated"}},
        "broken": {"pain": {"regions": ["nowhere"]}},
    })
    code, report = check_json(cli, "--rules", BROKEN / "conflict", "--facts", facts)
    assert code == 1
    failed = [f for f in report["findings"] if f["kind"] == "expect-failed"]
    assert [f["subject"] for f in failed] == ["fails"]
    message = failed[0]["message"]
    for part in ("top:", "excludes: femoral_neck_bsi", "triage_at_least: expected emergency", "running:"):
        assert part in message
    assert "FNBSI-LOAD" in message  # says which rules fired
    errors = [f for f in report["findings"] if f["kind"] == "case-error"]
    assert len(errors) == 1 and "broken.yaml" in errors[0]["file"]
    assert report["stats"]["with_expect"] == 2 and report["stats"]["expect_failed"] == 1


def test_coverage_names_rules_only_generated_cases_fire(tmp_path, facts_dir):
    facts = _facts_with(tmp_path, facts_dir, {"bsi": BSI_CASE})
    report = verify(BROKEN / "conflict", facts, generated=50)
    cover = report.stats["coverage"]
    assert "FNBSI-LOAD" not in cover["fired_by_generated"]  # the example fires it
    assert "RF-INFECTION" in cover["fired_by_generated"]
    notes = {f.rules[0]: f for f in report.findings if f.kind == "covered-by-generated"}
    assert notes["RF-INFECTION"].case["systemic"]["fever"] == "yes"  # the case that fires it is shown
    assert cover["never_fired"] == []


def test_a_rule_nothing_fires_is_uncovered(tmp_path, facts_dir):
    rules = tmp_path / "rules"
    shutil.copytree(BROKEN / "contradiction", rules)
    report = verify(rules, _facts_with(tmp_path, facts_dir, {}), generated=20)
    kinds = {f.kind for f in report.findings if "BROKEN-CONTRADICTION" in f.rules}
    # Reported once, as a rule that can never fire, not again as uncovered.
    assert kinds == {"never-fires"}


def test_intended_findings_are_allowed_in_kb_yaml(cli, tmp_path):
    rules = tmp_path / "rules"
    shutil.copytree(BROKEN / "conflict", rules)
    manifest = rules / "kb.yaml"
    manifest.write_text(manifest.read_text() + (
        "verify:\n  allow:\n"
        "    - finding: conflict\n      rules: [BROKEN-RUN-CONTINUE]\n      reason: the safety precedence decides\n"
        "    - finding: unread-field\n      reason: a minimal test knowledge base\n"
        "    - finding: redundant\n      rules: [NOPE]\n      reason: stale on purpose\n"))
    code, report = check_json(cli, "--rules", rules, "--no-cases")
    assert code == 0, report["findings"]
    assert {f["kind"] for f in report["allowed"]} == {"conflict", "unread-field"}
    assert all(f["reason"] for f in report["allowed"])
    assert [f["kind"] for f in report["findings"]] == ["stale-allow"]


def test_a_bad_allow_list_is_a_load_error(cli, tmp_path):
    rules = tmp_path / "rules"
    shutil.copytree(BROKEN / "conflict", rules)
    (rules / "kb.yaml").write_text((rules / "kb.yaml").read_text() + "verify:\n  allow:\n    - finding: nonsense\n")
    result = cli("check", "--rules", rules, "--no-cases")
    assert result.exit_code == 2
    assert "verify.allow[0].finding" in result.output or "verify.allow[0].finding" in (result.stderr or "")


def test_logic_on_conditions(kb):
    from hipkb.knowledge.conditions import Condition

    severity = kb.vocabulary.fields["pain.severity"]
    assert not satisfiable_on(severity, [Condition("case", "pain.severity", "range", (8, 3))])
    regions = kb.vocabulary.fields["pain.regions"]
    groin = Condition("case", "pain.regions", "any", ("groin",))
    groin_or_lateral = Condition("case", "pain.regions", "any", ("groin", "lateral_hip"))
    no_groin = Condition("case", "pain.regions", "none", ("groin",))
    assert implies(groin, groin_or_lateral, kb) and not implies(groin_or_lateral, groin, kb)
    assert not satisfiable_on(regions, [groin, no_groin])
    # A required list can never be known-empty of every value.
    assert not satisfiable_on(regions, [Condition("case", "pain.regions", "none", tuple(regions.values))])


def test_every_shipped_rule_is_judged_firable_or_explained(kb):
    expander = Expander(kb)
    for rule in kb.rules:
        alternatives = expander.rule(rule)
        assert alternatives is None or isinstance(alternatives, list)


def test_exhaustive_finds_a_minimal_counterexample(cli, tmp_path):
    rules = tmp_path / "rules"
    shutil.copytree(BROKEN / "conflict", rules)
    text = (rules / "rules.yaml").read_text()
    # Break a safety invariant: a red flag no longer raises triage.
    text = text.replace("then: {triage: urgent, summary: See a clinician promptly.}",
                        "then: {triage: routine, summary: See a clinician.}")
    (rules / "rules.yaml").write_text(text)
    out = tmp_path / "found"
    result = cli("check", "--rules", rules, "--exhaustive", "--fields", "systemic.fever,behaviour.during_run",
                 "--fields", "exam.fulcrum", "--jobs", "2", "-o", out, "--format", "json")
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["stats"]["exhaustive"]["combinations"] == 3 * 6 * 3
    assert report["stats"]["exhaustive"]["checked"] == 54
    found = [f for f in report["findings"] if f["kind"] == "invariant"]
    cases = [f["case"] for f in found if "red-flag-triage" in f["subject"]]
    # Minimal: only what raises the flag, and the required region.
    assert {"pain": {"regions": ["groin"]}, "systemic": {"fever": "yes"}} in cases
    assert "54 combinations" in result.stderr
    files = sorted(out.glob("*.yaml"))
    assert len(files) == len(found)
    assert yaml.safe_load(files[0].read_text())["case_id"].startswith("counterexample-")


def test_exhaustive_is_clean_on_a_sound_kb_and_refuses_too_many(cli):
    result = cli("check", "--exhaustive", "--fields", "systemic.fever,neuro.saddle_numbness,exam.fulcrum",
                 "--jobs", "1")
    assert result.exit_code == 0, result.output
    assert "27 combinations" in result.stderr
    result = cli("check", "--exhaustive", "--fields", "pain.regions,history.training_change",
                 "--max-combinations", "1000")
    assert result.exit_code == 2
    assert "more than --max-combinations" in result.stderr
    result = cli("check", "--exhaustive", "--fields", "pain.nowhere")
    assert result.exit_code == 2 and "unknown field" in result.stderr


def test_exhaustive_options_need_exhaustive(cli):
    result = cli("check", "--fields", "systemic.fever")
    assert result.exit_code == 2


def test_vocabulary_nobody_reads_is_reported(cli):
    _, report = check_json(cli, "--rules", BROKEN / "conflict", "--no-cases")
    unread = {f["subject"] for f in report["findings"] if f["kind"] == "unread-field"}
    assert "runner.age" in unread and "behaviour.during_run" not in unread


def _lowering_kb(tmp_path: Path) -> Path:
    """A rule base where adding a bone-type finding (painful hopping) lowers triage."""
    rules = tmp_path / "rules"
    shutil.copytree(BROKEN / "conflict", rules)
    (rules / "more.yaml").write_text(yaml.safe_dump({"rules": [
        {"id": "BONE-HOP", "title": "Painful hopping", "source": "test fixture",
         "when": {"behaviour.hopping": "painful"}, "then": {"supports": "femoral_neck_bsi", "weight": 0.1}},
        {"id": "GMED-AGAINST-HOP", "title": "Painful hopping is against a tendon", "source": "test fixture",
         "when": {"behaviour.hopping": "painful"},
         "then": {"against": "gluteus_medius_tendinopathy", "weight": 0.9}},
        {"id": "TRIAGE-GMED", "title": "A possible tendinopathy is urgent (sic)", "source": "test fixture",
         "when": {"hypothesis.gluteus_medius_tendinopathy": {"at_least": "possible"}},
         "then": {"triage": "urgent", "summary": "Soon."}},
    ]}))
    return rules


def test_exhaustive_checks_monotonicity_across_combinations(cli, tmp_path):
    rules = _lowering_kb(tmp_path)
    base = tmp_path / "base.yaml"
    base.write_text(yaml.safe_dump({"pain": {"regions": ["lateral_hip"]}}))
    result = cli("check", "--rules", rules, "--exhaustive", "--fields", "behaviour.hopping,behaviour.during_run",
                 "--base", base, "--jobs", "1", "--format", "json")
    assert result.exit_code == 1
    found = [f for f in json.loads(result.stdout)["findings"] if f["subject"] == "monotonicity"]
    assert len(found) == 1
    assert "behaviour.hopping" in found[0]["message"] and "lowers triage from urgent to routine" in found[0]["message"]
    assert found[0]["case"] == {"pain": {"regions": ["lateral_hip"]}, "behaviour": {"during_run": "warms_up"}}


def test_the_invariant_finds_the_same_lowering_on_its_counterexample(tmp_path):
    from hipkb.verify import invariants

    subject = invariants.load(_lowering_kb(tmp_path))
    case = {"pain": {"regions": ["lateral_hip"]}, "behaviour": {"during_run": "warms_up"}}
    with pytest.raises(AssertionError, match=r"monotonicity: adding behaviour\.hopping=painful lowered triage"):
        invariants.assert_monotone(subject, case, [{"behaviour.hopping": "painful"}])


@pytest.mark.thorough
def test_property_check_finds_the_same_lowering(tmp_path):
    from hipkb.testing import properties

    with pytest.raises(AssertionError, match=r"monotonicity: adding behaviour\.hopping=painful lowered triage"):
        # Repeatable: the same search on every run.
        properties.check_monotonicity(_lowering_kb(tmp_path), settings=settings(
            max_examples=300, database=None, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck)))
