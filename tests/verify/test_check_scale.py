"""`hipkb check` on large rule bases: bounded expansion said out loud, deep chains, pairs by index, progress line."""

from __future__ import annotations

import copy
import io
import json
import os
import pty
import select
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from paths import ROOT

from hipkb.cli.progress import ProgressLine, progress_line
from hipkb.knowledge.resources import shipped
from hipkb.knowledge.rules import KnowledgeBase
from hipkb.verify import anomalies, verify
from hipkb.verify.logic import MAX_ALTERNATIVES, Expander

BROKEN = ROOT / "tests" / "broken_kbs"


def write_kb(tmp_path: Path, derived: dict[str, list[str]], rules: list[dict]) -> Path:
    """A rules directory: the conflict fixture's manifest with these derived facts, and these rules."""
    target = tmp_path / "rules"
    target.mkdir()
    manifest = yaml.safe_load((BROKEN / "conflict" / "kb.yaml").read_text(encoding="utf-8"))
    manifest["name"] = "scale-test"
    manifest["derived"] = {name: {"label": name, "values": {v: v for v in values}} for name, values in derived.items()}
    (target / "kb.yaml").write_text(yaml.safe_dump(manifest, sort_keys=False), encoding="utf-8")
    for rule in rules:
        rule.setdefault("title", rule["id"].lower())
        rule.setdefault("source", "test fixture")
    (target / "rules.yaml").write_text(yaml.safe_dump({"topic": "scale", "rules": rules}, sort_keys=False),
                                       encoding="utf-8")
    return target


def choice_fields(kb: KnowledgeBase, count: int, skip: tuple[str, ...] = ()) -> list[tuple[str, list[str]]]:
    found = [(path, list(spec.values)) for path, spec in kb.vocabulary.fields.items()
             if spec.type == "choice" and len(spec.values) >= 2 and path not in skip]
    assert len(found) >= count
    return found[:count]


def check_json(cli, rules: Path) -> tuple[int, dict]:
    result = cli("check", "--rules", rules, "--no-cases", "--format", "json")
    return result.exit_code, json.loads(result.output)


# --------------------------------------------------------------------------
# the bound on alternatives is reported, never passed in silence


def _too_many_ways(tmp_path: Path, kb: KnowledgeBase) -> Path:
    """RULE-MANY reads five derived facts of four producers each (4**5 ways), and hides a contradiction."""
    hidden = "behaviour.during_run"
    fields = iter(choice_fields(kb, 20, skip=(hidden,)))
    rules: list[dict] = []
    for fact in ("f1", "f2", "f3", "f4", "f5"):
        for n in range(4):
            path, values = next(fields)
            rules.append({"id": f"{fact.upper()}-{n}", "when": {path: values[0]},
                          "then": {"derive": {fact: "present"}}})
    # f6 needs during_run to worsen; RULE-MANY needs it to warm up: it can never fire.
    rules.append({"id": "F6-ONLY", "when": {hidden: "worsens"}, "then": {"derive": {"f6": "present"}}})
    rules.append({"id": "RULE-MANY", "when": {hidden: "warms_up", **{f: "present" for f in
                                                                 ("f1", "f2", "f3", "f4", "f5", "f6")}},
                  "then": {"supports": "femoral_neck_bsi", "weight": 0.5}})
    rules.append({"id": "TRIAGE-DEFAULT", "then": {"triage": "routine", "summary": "See a clinician."}})
    return write_kb(tmp_path, {f: ["present"] for f in ("f1", "f2", "f3", "f4", "f5", "f6")}, rules)


def test_a_rule_past_the_bound_is_a_finding_not_a_silent_pass(cli, tmp_path, kb):
    rules = _too_many_ways(tmp_path, kb)
    code, report = check_json(cli, rules)
    assert code == 1
    bound = [f for f in report["findings"] if f["kind"] == "expansion-bound"]
    assert [f["rules"] for f in bound] == [["RULE-MANY"]]
    assert bound[0]["severity"] == "warning" and f"more than {MAX_ALTERNATIVES}" in bound[0]["message"]
    # The contradiction behind the bound is not claimed either way...
    assert not any(f["kind"] == "never-fires" and "RULE-MANY" in f["rules"] for f in report["findings"])
    # ...and the summary says how much went unexpanded.
    assert report["stats"]["expansion"] == {"limit": MAX_ALTERNATIVES, "unknown_rules": 1, "rules": 23}
    text = cli("check", "--rules", rules, "--no-cases").output
    assert "expansion: 1 of 23 rules not expanded" in text
    assert "WARN  expansion-bound [RULE-MANY]: not expanded:" in text


def test_within_a_larger_bound_the_same_rule_is_found_never_firing(tmp_path, kb):
    base = KnowledgeBase.load(_too_many_ways(tmp_path, kb), shipped("facts"))
    expander = Expander(base, limit=4 ** 5)
    findings = anomalies.static_findings(base, expander=expander)
    never = [f for f in findings if f.kind == "never-fires"]
    assert [f.rules for f in never] == [("RULE-MANY",)]
    assert "behaviour.during_run" in never[0].message
    assert not expander.gave_up and not any(f.kind == "expansion-bound" for f in findings)


def test_a_derived_fact_past_the_bound_names_the_fact(tmp_path, kb):
    fields = choice_fields(kb, 5)
    rules = [{"id": f"F1-{n}", "when": {path: values[0]}, "then": {"derive": {"f1": "present"}}}
             for n, (path, values) in enumerate(fields)]
    rules.append({"id": "READS-F1", "when": {"f1": "present"}, "then": {"supports": "femoral_neck_bsi",
                                                                        "weight": 0.5}})
    base = KnowledgeBase.load(write_kb(tmp_path, {"f1": ["present"]}, rules), shipped("facts"))
    expander = Expander(base, limit=3)
    findings = [f for f in anomalies.static_findings(base, expander=expander) if f.kind == "expansion-bound"]
    assert len(findings) == 1 and findings[0].subject == "f1"
    assert "'f1 is present' not expanded: it holds in more than 3 ways (through 5 rules)" in findings[0].message
    assert expander.rule(base.by_id["READS-F1"]) is None and expander.can_fire(base.by_id["READS-F1"])
    assert anomalies.expansion_stats(base, expander) == {"limit": 3, "unknown_rules": 1, "rules": 6}


def test_the_shipped_rules_are_expanded_in_full(kb):
    expander = Expander(kb)
    assert all(expander.rule(rule) is not None for rule in kb.rules)
    assert expander.gave_up == {} and anomalies.expansion_stats(kb, expander) is None


# --------------------------------------------------------------------------
# cycles and deep chains


def test_support_through_a_cycle_grounds_nothing(cli, tmp_path):
    rules = write_kb(tmp_path, {"x": ["present"], "y": ["present"]}, [
        {"id": "X-FROM-FINDING", "when": {"behaviour.during_run": "worsens"}, "then": {"derive": {"x": "present"}}},
        {"id": "X-FROM-Y", "when": {"y": "present"}, "then": {"derive": {"x": "present"}}},
        {"id": "Y-FROM-X", "when": {"x": "present"}, "then": {"derive": {"y": "present"}}},
        {"id": "EV-Y", "when": {"y": "present", "behaviour.hopping": "painful"},
         "then": {"supports": "femoral_neck_bsi", "weight": 0.5}},
        {"id": "EV-Y-BLOCKED", "when": {"y": "present", "behaviour.during_run": "warms_up"},
         "then": {"supports": "gluteus_medius_tendinopathy", "weight": 0.5}},
    ])
    code, report = check_json(cli, rules)
    assert code == 1
    kinds = {(f["kind"], tuple(f["rules"])) for f in report["findings"]}
    assert ("never-fires", ("EV-Y-BLOCKED",)) in kinds
    assert not any(kind == "never-fires" and "EV-Y" in ids for kind, ids in kinds)
    assert any(kind == "cycle" for kind, _ in kinds)
    base = KnowledgeBase.load(rules, shipped("facts"))
    alternatives = Expander(base).rule(base.by_id["EV-Y"])
    assert alternatives is not None
    assert [sorted(c.describe() for c in alt) for alt in alternatives] == [
        ["behaviour.during_run is worsens", "behaviour.hopping is painful"]]


def _cycle_kb(tmp_path: Path) -> Path:
    return write_kb(tmp_path, {"x": ["present"], "y": ["present"]}, [
        {"id": "X-FROM-FINDING", "when": {"behaviour.during_run": "worsens"}, "then": {"derive": {"x": "present"}}},
        {"id": "X-FROM-Y", "when": {"y": "present"}, "then": {"derive": {"x": "present"}}},
        {"id": "Y-FROM-X", "when": {"x": "present"}, "then": {"derive": {"y": "present"}}},
        {"id": "EV-Y-BLOCKED", "when": {"y": "present", "behaviour.during_run": "warms_up"},
         "then": {"supports": "gluteus_medius_tendinopathy", "weight": 0.5}},
    ])


def test_a_cycle_that_does_not_settle_in_its_budget_is_reported(tmp_path, monkeypatch):
    from hipkb.verify import logic

    monkeypatch.setattr(logic, "MAX_UPDATES_PER_NODE", 1)
    base = KnowledgeBase.load(_cycle_kb(tmp_path), shipped("facts"))
    expander = Expander(base)
    findings = anomalies.static_findings(base, expander=expander)
    bound = [f for f in findings if f.kind == "expansion-bound"]
    assert len(bound) == 1 and "did not settle" in bound[0].message
    # Unknown is not no: the rule behind the cycle is no longer claimed never to fire.
    assert not any(f.kind == "never-fires" for f in findings)
    assert expander.rule(base.by_id["EV-Y-BLOCKED"]) is None


def test_a_chain_deeper_than_the_recursion_limit_is_followed(tmp_path):
    depth = max(1500, sys.getrecursionlimit() + 100)
    steps = [f"s{n:04d}" for n in range(depth)]
    rules: list[dict] = [{"id": "STEP-0000", "when": {"behaviour.during_run": "worsens"},
                          "then": {"derive": {"step": steps[0]}}}]
    rules += [{"id": f"STEP-{n:04d}", "when": {"step": steps[n - 1]}, "then": {"derive": {"step": steps[n]}}}
              for n in range(1, depth)]
    rules.append({"id": "EV-END", "when": {"step": steps[-1]}, "then": {"supports": "femoral_neck_bsi",
                                                                        "weight": 0.5}})
    rules.append({"id": "EV-END-BLOCKED", "when": {"step": steps[-1], "behaviour.during_run": "warms_up"},
                  "then": {"supports": "gluteus_medius_tendinopathy", "weight": 0.5}})
    report = verify(write_kb(tmp_path, {"step": steps}, rules), shipped("facts"), examples=False)
    never = [f for f in report.findings if f.kind == "never-fires"]
    assert [f.rules for f in never] == [("EV-END-BLOCKED",)]
    assert "behaviour.during_run" in never[0].message
    assert "expansion" not in report.stats


# --------------------------------------------------------------------------
# pairs found by index are the pairs every comparison finds


def _synthetic(tmp_path: Path, size: int, seed: int) -> KnowledgeBase:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import synthkb
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    rules = synthkb.write(tmp_path / f"rules{seed}", size, shipped("rules"), shipped("facts"), seed=seed)
    # Plant redundancy: copies of a few rules, and narrower versions of others.
    for name in ("patterns", "evidence"):
        path = rules / f"{name}.yaml"
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        planted = [{**copy.deepcopy(rule), "id": f"{rule['id']}-COPY"} for rule in data["rules"][:3]]
        planted += [{**copy.deepcopy(rule), "id": f"{rule['id']}-NARROW",
                     "when": {**copy.deepcopy(rule["when"]), "systemic.fever": "no"}}
                    for rule in data["rules"][3:6] if "systemic.fever" not in rule["when"]]
        data["rules"] += planted
        path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return KnowledgeBase.load(rules, shipped("facts"))


def _every_pair(kb: KnowledgeBase, expander: Expander) -> tuple[list, list]:
    """Redundancy and conflicts by comparing every pair: the definition the indexed search must meet."""
    redundant, conflicts = [], []
    rules = kb.rules
    for i, a in enumerate(rules):
        for b in rules[i + 1:]:
            if anomalies._same_conclusion(a, b):
                a_covers_b, b_covers_a = anomalies._covers(a, b, kb), anomalies._covers(b, a, kb)
                general = a if a_covers_b else b
                if (a_covers_b and b_covers_a) or ((a_covers_b or b_covers_a) and general.conditions
                                                   and a.conclusion.kind in anomalies.IDEMPOTENT):
                    redundant.append(tuple(sorted((a.id, b.id))))
            relevant = [r for r in (a, b) if r.conditions and r.conclusion.kind in
                        ("supports", "against", "running", "triage")]
            if len(relevant) == 2 and anomalies._conflicting(a, b, kb) and expander.together(a, b) != []:
                conflicts.append(tuple(sorted((a.id, b.id))))
    return sorted(redundant), sorted(conflicts)


@pytest.mark.parametrize("seed", [3, 5])
def test_indexed_pairs_match_every_pair(tmp_path, seed):
    kb = _synthetic(tmp_path, 160, seed)
    expander = Expander(kb)
    redundant = sorted({tuple(sorted(f.rules)) for f in anomalies.redundant(kb, expander)})
    conflicts = sorted(tuple(sorted(f.rules)) for f in anomalies.conflicts(kb, expander))
    every_redundant, every_conflict = _every_pair(kb, expander)
    assert redundant == every_redundant and redundant
    assert conflicts == every_conflict and conflicts


def test_redundant_pairs_are_found_among_many_rules_of_one_conclusion(tmp_path, kb):
    fields = choice_fields(kb, 40)
    rules = [{"id": f"FLAG-{n:02d}", "when": {path: values[0]}, "then": {"red_flag": "possible_infection"}}
             for n, (path, values) in enumerate(fields)]
    path, values = fields[7]
    rules.append({"id": "FLAG-SPECIFIC", "when": {path: values[0], fields[8][0]: fields[8][1][1]},
                  "then": {"red_flag": "possible_infection"}})
    rules.append({"id": "FLAG-COPY", "when": {path: values[0]}, "then": {"red_flag": "possible_infection"}})
    base = KnowledgeBase.load(write_kb(tmp_path, {}, rules), shipped("facts"))
    found = sorted(f.message for f in anomalies.redundant(base, Expander(base)))
    assert found == ["FLAG-07 and FLAG-COPY have equivalent conditions and the same conclusion "
                     "(red_flag=possible_infection)",
                     "FLAG-SPECIFIC is subsumed by FLAG-07: same conclusion (red_flag=possible_infection), and "
                     "FLAG-07 fires whenever FLAG-SPECIFIC does",
                     "FLAG-SPECIFIC is subsumed by FLAG-COPY: same conclusion (red_flag=possible_infection), and "
                     "FLAG-COPY fires whenever FLAG-SPECIFIC does"]


# --------------------------------------------------------------------------
# the progress line


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_progress_line_rewrites_in_place_and_clears():
    stream, clock = io.StringIO(), FakeClock()
    line = ProgressLine(stream, interval=0.1, clock=clock)
    line("checking rules", 0, 9800)
    line("checking rules", 1, 9800)  # too soon: not drawn
    clock.now = 0.5
    line("checking rules", 1200, 9800)
    line("checking conflicts", 3, 40)  # a new stage: drawn at once, the longer line blanked
    line.clear()
    longer, shorter = "checking rules: 1200/9800", "checking conflicts: 3/40"
    assert stream.getvalue() == ("\rchecking rules: 0/9800"
                                 "\r" + longer +
                                 "\r" + shorter + " " * (len(longer) - len(shorter)) +
                                 "\r" + " " * len(shorter) + "\r")  # what is left of the longer one is blank


def test_progress_line_pads_over_a_longer_line():
    stream, clock = io.StringIO(), FakeClock()
    line = ProgressLine(stream, clock=clock)
    line("checking redundancy", 10, 100)
    line("covering rules", 1, 5)
    assert stream.getvalue().endswith("\rcovering rules: 1/5" + " " * (len("checking redundancy: 10/100")
                                                                        - len("covering rules: 1/5")))


def test_no_progress_line_unless_a_terminal():
    assert progress_line(io.StringIO()) is None
    assert progress_line(io.StringIO(), isatty=lambda: True) is not None


def _hipkb(*args: str, stderr) -> subprocess.Popen:
    code = "import sys; from hipkb.cli import main; sys.exit(main())"
    return subprocess.Popen([sys.executable, "-c", code, *args], stdout=subprocess.PIPE, stderr=stderr,
                            stdin=subprocess.DEVNULL, cwd=ROOT)


def test_progress_is_shown_on_a_terminal_and_cleared(tmp_path):
    args = ("check", "--rules", str(BROKEN / "conflict"), "--no-cases")
    piped = _hipkb(*args, stderr=subprocess.PIPE)
    piped_out, piped_err = piped.communicate(timeout=120)
    assert piped_err == b""  # not a terminal: no progress at all
    controller, terminal = pty.openpty()
    try:
        proc = _hipkb(*args, stderr=terminal)
        os.close(terminal)
        shown = b""
        while True:
            ready, _, _ = select.select([controller], [], [], 120)
            if not ready:
                break
            try:
                chunk = os.read(controller, 4096)
            except OSError:  # the terminal closed with the process
                break
            if not chunk:
                break
            shown += chunk
        out, _ = proc.communicate(timeout=120)
    finally:
        os.close(controller)
    assert out == piped_out  # the report itself is the same
    text = shown.decode()
    assert "\rchecking rules: 0/12" in text and "\rchecking conflicts: " in text
    last = text.rpartition("\r")[0].rpartition("\r")[2]
    assert text.endswith("\r") and last.strip() == ""  # cleared: blanks, then back to the start
