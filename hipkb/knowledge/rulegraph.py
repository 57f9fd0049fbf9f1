"""The rule dependency graph: findings -> derived facts -> red flags -> hypotheses -> triage and advice.

Nodes are facts (case fields, derived facts, red flags, hypotheses, triage
levels, running advice, questions to avoid) and rules; an edge goes from each
fact a rule reads to the rule, and from the rule to what it concludes. Evidence
against a hypothesis is drawn dashed. Written as Graphviz DOT or Mermaid, both
plain text: no binary is needed to produce them, and both render in common
viewers (Mermaid in GitHub Markdown).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from hipkb.knowledge import conditions as cond
from hipkb.knowledge.kinds import Target
from hipkb.knowledge.rules import KnowledgeBase, RuleDef

# Columns, left to right, and how each kind of node is labelled.
TIERS = ("finding", "derived", "red_flag", "rule", "hypothesis", "status", "decision")
TIER_LABELS = {
    "finding": "Findings",
    "derived": "Patterns (derived facts)",
    "red_flag": "Red flags",
    "hypothesis": "Hypotheses",
    "status": "Exclusion status (rule out the worst first)",
    "decision": "Triage and advice",
}


@dataclass(frozen=True)
class Node:
    id: str
    label: str
    tier: str


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    label: str = ""
    dashed: bool = False


def _node_id(kind: str, name: str) -> str:
    return kind + "_" + re.sub(r"[^A-Za-z0-9]", "_", name)


def _condition_node(c: cond.Condition) -> Node:
    if c.kind == cond.CASE:
        return Node(_node_id("f", c.subject), c.subject, "finding")
    if c.kind == cond.DERIVED:
        return Node(_node_id("d", c.subject), c.subject, "derived")
    if c.kind == cond.RED_FLAG:
        name = ",".join(c.values) or "any red flag"
        return Node(_node_id("r", name if c.values else "any"), name, "red_flag")
    if c.kind == cond.STATUS:
        return Node(_node_id("s", c.subject), f"status of {c.subject}", "status")
    return Node(_node_id("h", c.subject), c.subject, "hypothesis")


# Where each kind of target is drawn: its node id prefix and tier.
_TARGET_NODES = {
    Target.DERIVED_FACT: ("d", "derived"),
    Target.RED_FLAG: ("r", "red_flag"),
    Target.HYPOTHESIS: ("h", "hypothesis"),
    Target.TRIAGE_LEVEL: ("t", "decision"),
    Target.RUNNING_ADVICE: ("run", "decision"),
    Target.REFERRAL: ("ref", "decision"),
    Target.SCORE: ("d", "derived"),  # points add up to the score, read as a derived fact
    Target.STATUS: ("s", "status"),
}


def _conclusion_node(rule: RuleDef) -> Node:
    c = rule.conclusion
    spec = c.spec
    if spec.target is Target.FIELDS:
        return Node(_node_id("q", c.kind.value), spec.label, "decision")
    prefix, tier = _TARGET_NODES[spec.target]
    label = c.target if tier != "decision" else f"{spec.label}: {c.target}"
    if tier == "status":
        label = f"status of {c.target}"
    return Node(_node_id(prefix, c.target), label, tier)


def build(kb: KnowledgeBase) -> tuple[list[Node], list[Edge]]:
    """The nodes and edges of *kb*'s dependency graph, in a stable order."""
    nodes: dict[str, Node] = {}
    edges: list[Edge] = []
    for rule in sorted(kb.rules, key=lambda r: (r.layer, r.id)):
        rnode = Node(_node_id("rule", rule.id), rule.id, "rule")
        nodes[rnode.id] = rnode
        for c in rule.conditions:
            source = _condition_node(c)
            nodes.setdefault(source.id, source)
            value = ",".join(str(v) for v in c.values if v is not None)
            edges.append(Edge(source.id, rnode.id, value if c.kind in (cond.DERIVED, cond.HYPOTHESIS) else ""))
        target = _conclusion_node(rule)
        nodes.setdefault(target.id, target)
        conclusion = rule.conclusion
        label = ""
        if conclusion.spec.target in (Target.DERIVED_FACT, Target.STATUS):
            label = conclusion.value
        elif conclusion.spec.target is Target.SCORE:
            label = f"{conclusion.value} +{conclusion.weight:g}"
        elif conclusion.spec.target is Target.HYPOTHESIS:
            label = f"{conclusion.cf:+g}"
        edges.append(Edge(rnode.id, target.id, label, dashed=conclusion.cf < 0))
    # Red flags feed rules that read "any red flag".
    if any(n.id == _node_id("r", "any") for n in nodes.values()):
        for flag in sorted(kb.red_flags):
            fid = _node_id("r", flag)
            if fid in nodes:
                edges.append(Edge(fid, _node_id("r", "any"), ""))
    order = {t: i for i, t in enumerate(TIERS)}
    return sorted(nodes.values(), key=lambda n: (order[n.tier], n.label)), edges


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def to_dot(kb: KnowledgeBase) -> str:
    """Graphviz DOT, left to right, one cluster per tier."""
    nodes, edges = build(kb)
    lines = [f"digraph {_quote(kb.name)} {{", "  rankdir=LR;", '  node [fontname="Helvetica", fontsize=10];']
    shapes = {"finding": "ellipse", "derived": "ellipse", "red_flag": "octagon", "rule": "box",
              "hypothesis": "doubleoctagon", "status": "hexagon", "decision": "diamond"}
    for tier in TIERS:
        members = [n for n in nodes if n.tier == tier]
        if not members:
            continue
        if tier == "rule":
            lines.extend(f"  {n.id} [label={_quote(n.label)}, shape=box, style=rounded];" for n in members)
            continue
        lines.append(f"  subgraph cluster_{tier} {{")
        lines.append(f"    label={_quote(TIER_LABELS[tier])};")
        lines.extend(f"    {n.id} [label={_quote(n.label)}, shape={shapes[tier]}];" for n in members)
        lines.append("  }")
    for e in edges:
        attrs = []
        if e.label:
            attrs.append(f"label={_quote(e.label)}")
        if e.dashed:
            attrs.append("style=dashed")
        suffix = f" [{', '.join(attrs)}]" if attrs else ""
        lines.append(f"  {e.source} -> {e.target}{suffix};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _mermaid_text(text: str) -> str:
    # Mermaid labels in quotes may not hold a double quote; #quot; is its escape.
    return text.replace('"', "#quot;")


def to_mermaid(kb: KnowledgeBase) -> str:
    """A Mermaid flowchart, left to right, one subgraph per tier."""
    nodes, edges = build(kb)
    lines = ["flowchart LR"]
    shapes = {"finding": ('(["', '"])'), "derived": ('("', '")'), "red_flag": ('{{"', '"}}'),
              "rule": ('["', '"]'), "hypothesis": ('[["', '"]]'), "status": ('[/"', '"/]'),
              "decision": ('{"', '"}')}
    for tier in TIERS:
        members = [n for n in nodes if n.tier == tier]
        if not members:
            continue
        indent = "  "
        if tier != "rule":
            lines.append(f'  subgraph {tier}["{TIER_LABELS[tier]}"]')
            indent = "    "
        for n in members:
            left, right = shapes[tier]
            lines.append(f"{indent}{n.id}{left}{_mermaid_text(n.label)}{right}")
        if tier != "rule":
            lines.append("  end")
    for e in edges:
        arrow = "-.->" if e.dashed else "-->"
        label = f'|"{_mermaid_text(e.label)}"|' if e.label else ""
        lines.append(f"  {e.source} {arrow}{label} {e.target}")
    return "\n".join(lines) + "\n"
