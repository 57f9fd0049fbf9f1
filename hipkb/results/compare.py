"""Compare two rule bases on a set of cases: which results differ, and which rules made the difference.

For each case, both knowledge bases reason about it; a case is listed when
the ranking of hypotheses, the triage level, the running advice or the red
flags differ. The reasons given are the rules that fired under one and not
the other, and the rules that fired under both but are written differently
(same id, changed conditions or conclusion).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from hipkb.engine.reasoner import Reasoner
from hipkb.errors import HipkbError
from hipkb.knowledge.rules import KnowledgeBase
from hipkb.load.inputs import CaseSource
from hipkb.results.result import build_result
from hipkb.textsafe import terminal

ASPECTS = ("ranking", "triage", "running", "red_flags")


@dataclass
class CaseDiff:
    """How one case came out under A and under B, and why they differ."""

    case_id: str
    source: str
    changes: dict[str, dict[str, Any]] = field(default_factory=dict)
    fired_only_a: list[str] = field(default_factory=list)
    fired_only_b: list[str] = field(default_factory=list)
    changed_rules: list[str] = field(default_factory=list)
    certainty: dict[str, tuple[float, float]] = field(default_factory=dict)
    error: str = ""

    @property
    def differs(self) -> bool:
        return bool(self.changes) or bool(self.error)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"case_id": self.case_id, "source": self.source, "changes": self.changes,
                                "fired_only_a": self.fired_only_a, "fired_only_b": self.fired_only_b,
                                "changed_rules": self.changed_rules,
                                "certainty": {h: list(v) for h, v in self.certainty.items()}}
        if self.error:
            data["error"] = self.error
        return data


def _summary(result: dict[str, Any]) -> dict[str, Any]:
    return {
        "ranking": [h["id"] for h in result["hypotheses"]],
        "triage": result["triage"]["level"],
        "running": result["running"]["advice"],
        "red_flags": [f["id"] for f in result["red_flags"]],
    }


def compare_case(a: tuple[KnowledgeBase, Reasoner], b: tuple[KnowledgeBase, Reasoner],
                 source: CaseSource) -> CaseDiff:
    """Run one case under both knowledge bases and say what differs."""
    (kb_a, reasoner_a), (kb_b, reasoner_b) = a, b
    results = []
    case_id = source.default_id
    for kb, reasoner, name in ((kb_a, reasoner_a, "A"), (kb_b, reasoner_b, "B")):
        try:
            case = source.load(kb)
            case_id = case.case_id
            results.append(build_result(kb, reasoner.infer(case)))
        except HipkbError as error:
            return CaseDiff(case_id, source.name, error=f"under {name}: {error}")
    ra, rb = results
    diff = CaseDiff(case_id, source.name)
    sa, sb = _summary(ra), _summary(rb)
    for aspect in ASPECTS:
        if sa[aspect] != sb[aspect]:
            diff.changes[aspect] = {"a": sa[aspect], "b": sb[aspect]}
    if not diff.changes:
        return diff
    fired_a = {f["rule"] for f in ra["fired"]} & set(kb_a.by_id)
    fired_b = {f["rule"] for f in rb["fired"]} & set(kb_b.by_id)
    diff.fired_only_a = sorted(fired_a - fired_b)
    diff.fired_only_b = sorted(fired_b - fired_a)
    diff.changed_rules = sorted(rid for rid in fired_a | fired_b
                                if rid in kb_a.by_id and rid in kb_b.by_id
                                and _definition(kb_a.by_id[rid]) != _definition(kb_b.by_id[rid]))
    ca = {h["id"]: h["certainty"] for h in ra["hypotheses"]}
    cb = {h["id"]: h["certainty"] for h in rb["hypotheses"]}
    diff.certainty = {h: (ca.get(h, 0.0), cb.get(h, 0.0)) for h in sorted(set(ca) | set(cb))
                      if ca.get(h, 0.0) != cb.get(h, 0.0)}
    return diff


def _definition(rule) -> tuple:
    """What a rule says, leaving out where it is written."""
    return (rule.conditions, rule.conclusion)


def compare(kb_a: KnowledgeBase, kb_b: KnowledgeBase, sources: Iterable[CaseSource]) -> list[CaseDiff]:
    """Every case's comparison, in the order given; see :attr:`CaseDiff.differs`."""
    a, b = (kb_a, Reasoner(kb_a)), (kb_b, Reasoner(kb_b))
    return [compare_case(a, b, source) for source in sources]


def rule_changes(kb_a: KnowledgeBase, kb_b: KnowledgeBase) -> dict[str, list[str]]:
    """Rules only in A, only in B, and in both but written differently."""
    ids_a, ids_b = set(kb_a.by_id), set(kb_b.by_id)
    return {
        "only_a": sorted(ids_a - ids_b),
        "only_b": sorted(ids_b - ids_a),
        "changed": sorted(r for r in ids_a & ids_b if _definition(kb_a.by_id[r]) != _definition(kb_b.by_id[r])),
    }


def to_text(diffs: list[CaseDiff], changes: dict[str, list[str]], labels: tuple[str, str]) -> str:
    """People's version: one block per differing case, then a count."""
    a, b = labels
    lines = [f"A = {a}", f"B = {b}"]
    for key, title in (("only_a", "rules only in A"), ("only_b", "rules only in B"), ("changed", "rules changed")):
        if changes[key]:
            lines.append(f"{title}: {', '.join(changes[key])}")
    differing = [d for d in diffs if d.differs]
    for d in differing:
        lines.append("")
        lines.append(f"{terminal(d.case_id)} ({terminal(d.source)})")  # from outside: one safe line
        if d.error:
            lines.append(f"  error {d.error}")
            continue
        for aspect, change in d.changes.items():
            left = ", ".join(change["a"]) if isinstance(change["a"], list) else change["a"]
            right = ", ".join(change["b"]) if isinstance(change["b"], list) else change["b"]
            lines.append(f"  {aspect}: {left or '(none)'}  ->  {right or '(none)'}")
        if d.fired_only_a:
            lines.append(f"  fired only under A: {', '.join(d.fired_only_a)}")
        if d.fired_only_b:
            lines.append(f"  fired only under B: {', '.join(d.fired_only_b)}")
        if d.changed_rules:
            lines.append(f"  fired, but written differently: {', '.join(d.changed_rules)}")
        if d.certainty:
            moved = ", ".join(f"{h} {x:g} -> {y:g}" for h, (x, y) in d.certainty.items())
            lines.append(f"  certainty: {moved}")
    lines.append("")
    lines.append(f"{len(differing)} of {len(diffs)} case(s) differ")
    return "\n".join(lines) + "\n"
