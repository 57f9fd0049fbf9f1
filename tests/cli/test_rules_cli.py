"""`hipkb rules list|show|graph`: browse the knowledge base (no shipped rule id is assumed)."""

from __future__ import annotations

import json
import re

import pytest
from paths import ROOT

BROKEN = ROOT / "tests" / "broken_kbs"


def test_list_shows_every_rule(cli, kb):
    result = cli("rules", "list")
    assert result.exit_code == 0
    ids = [line.split()[0] for line in result.stdout.splitlines()]
    assert sorted(ids) == sorted(r.id for r in kb.rules)


def test_list_json_and_kind_filter(cli, kb):
    data = json.loads(cli("rules", "list", "--format", "json", "--kind", "triage").stdout)
    assert {r["id"] for r in data} == {r.id for r in kb.rules if r.conclusion.kind == "triage"}
    assert all(r["then"]["kind"] == "triage" and r["source"] and r["title"] for r in data)


def test_show_a_rule_with_its_inputs_and_readers(cli, kb):
    # A rule that reads a derived fact: its producers are listed.
    rule = next(r for r in kb.rules if any(c.kind == "derived" for c in r.conditions))
    result = cli("rules", "show", rule.id)
    assert result.exit_code == 0
    assert result.output.startswith(f"{rule.id}: {rule.title}")
    assert f"source: {rule.source}" in result.output
    assert "comes from:" in result.output
    data = json.loads(cli("rules", "show", rule.id.lower(), "--format", "json").output)
    assert data["id"] == rule.id and data["inputs"] and all(item["from"] for item in data["inputs"])
    producer = data["inputs"][0]["from"][0]
    assert rule.id in json.loads(cli("rules", "show", producer, "--format", "json").output)["read_by"]


def test_show_an_unknown_rule(cli, kb):
    some = kb.rules[0].id
    result = cli("rules", "show", some[:-1] + "Q")
    assert result.exit_code == 2
    assert "no such rule" in result.output


@pytest.mark.parametrize("fmt", ["dot", "mermaid"])
def test_graph_holds_every_rule_and_layer(cli, kb, fmt, tmp_path):
    out = tmp_path / f"graph.{fmt}"
    result = cli("rules", "graph", "--format", fmt, "-o", out)
    assert result.exit_code == 0 and result.output == ""
    text = out.read_text()
    assert text.startswith("digraph" if fmt == "dot" else "flowchart LR")
    for rule in kb.rules:
        assert f'"{rule.id}"' in text
    for tier in ("Findings", "Patterns", "Hypotheses", "Triage and advice"):
        assert tier in text
    arrow = "->" if fmt == "dot" else "-->"
    edges = [line for line in text.splitlines() if arrow in line]
    assert len(edges) >= len(kb.rules)


def test_graph_edges_follow_the_chain(cli):
    text = cli("rules", "graph", "--rules", BROKEN / "conflict").stdout
    # finding -> pattern rule -> derived fact -> evidence rule -> hypothesis -> triage rule -> triage
    for edge in ("f_behaviour_during_run -> rule_LOAD_BONE", "rule_LOAD_BONE -> d_load_response",
                 "d_load_response -> rule_FNBSI_LOAD", "rule_FNBSI_LOAD -> h_femoral_neck_bsi",
                 "h_femoral_neck_bsi -> rule_TRIAGE_BSI", "rule_TRIAGE_BSI -> t_urgent"):
        assert edge in text
    mermaid = cli("rules", "graph", "--rules", BROKEN / "conflict", "--format", "mermaid").stdout
    assert re.search(r'rule_FNBSI_LOAD -->\|"\+0\.6"\| h_femoral_neck_bsi', mermaid)
