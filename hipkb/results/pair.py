"""Two cases side by side: which findings differ, and which conclusions changed because of them.

The counterpart of :mod:`hipkb.results.compare` (one case, two rule bases):
here one rule base reasons about two cases. Each changed conclusion names
the differing findings its HOW chain rests on in either case, so a class can
see that the triage moved because hopping became painful.
"""

from __future__ import annotations

from typing import Any

from hipkb.engine.reasoner import Reasoner
from hipkb.engine.record import Inference
from hipkb.knowledge.rules import KnowledgeBase
from hipkb.load.case import Case, Value
from hipkb.results import explain as ex


def _plain(value: Value | None) -> Any:
    return list(value) if isinstance(value, tuple) else value


def _words(kb: KnowledgeBase, path: str, value: Value | None) -> str:
    spec = kb.vocabulary.fields[path]
    if value is None:
        return "unknown"
    if isinstance(value, tuple):
        return ", ".join(spec.values.get(v, v) for v in value)
    return spec.values.get(str(value), str(value))


def differing_findings(kb: KnowledgeBase, a: Case, b: Case) -> list[dict[str, Any]]:
    """Every vocabulary field whose value differs between *a* and *b* (unknown counts as a value)."""
    rows = []
    for path in kb.vocabulary.fields:
        va, vb = a.get(path), b.get(path)
        if va != vb:
            rows.append({"fact": path, "words": ex.field_words(path), "a": _plain(va), "b": _plain(vb),
                         "a_text": _words(kb, path, va), "b_text": _words(kb, path, vb)})
    return rows


def _because(kb: KnowledgeBase, infs: tuple[Inference, Inference], target: str, differing: set[str]) -> list[str]:
    """The differing fields under *target*'s HOW chain in either case."""
    found: list[str] = []
    for inference in infs:
        for fact in ex.findings_under(ex.how(kb, inference, target)):
            path = fact.partition("=")[0]
            if path in differing and path not in found:
                found.append(path)
    return found


def compare_cases(reasoner: Reasoner, a: Case, b: Case) -> dict[str, Any]:
    """How *a* and *b* differ in findings and in conclusions, with the findings behind each change."""
    kb = reasoner.kb
    infs = (reasoner.infer(a), reasoner.infer(b))
    findings = differing_findings(kb, a, b)
    differing = {row["fact"] for row in findings}
    changes: list[dict[str, Any]] = []
    ia, ib = infs
    for aspect in ("triage", "running"):
        ca, cb = getattr(ia, aspect), getattr(ib, aspect)
        va, vb = (ca.value if ca else None), (cb.value if cb else None)
        if va != vb:
            changes.append({"what": aspect, "label": aspect.capitalize(), "a": va, "b": vb,
                            "because": _because(kb, infs, aspect, differing)})
    top_a = ia.ranked()[0].hypothesis if ia.ranked() else None
    top_b = ib.ranked()[0].hypothesis if ib.ranked() else None
    if top_a != top_b:
        changes.append({"what": "top", "label": "Top hypothesis", "a": top_a, "b": top_b, "because": []})
    for flag in sorted(set(ia.red_flags) ^ set(ib.red_flags)):
        changes.append({"what": f"red_flag.{flag}", "label": kb.red_flags[flag].label,
                        "a": flag in ia.red_flags, "b": flag in ib.red_flags,
                        "because": _because(kb, infs, flag, differing)})
    for hid in kb.hypotheses:
        sa, sb = ia.scores.get(hid), ib.scores.get(hid)
        ca = sa.certainty if sa else 0.0
        cb = sb.certainty if sb else 0.0
        if ca != cb and (ca > 0 or cb > 0):
            changes.append({"what": f"hypothesis.{hid}", "label": kb.hypotheses[hid].label,
                            "a": max(ca, 0.0), "b": max(cb, 0.0),
                            "band_a": sa.band if sa and ca > 0 else None, "band_b": sb.band if sb and cb > 0 else None,
                            "because": _because(kb, infs, hid, differing)})
    return {"a": a.case_id, "b": b.case_id, "findings": findings, "conclusions": changes}
