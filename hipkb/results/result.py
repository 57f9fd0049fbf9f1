"""Build the ``hipkb-result/1`` data of an inference, and write it as JSON.

The result is plain data (dicts, lists, strings, numbers) in a fixed order, so
that every renderer works from the same thing and the JSON is byte-identical
for the same case.
"""

from __future__ import annotations

import json
from typing import Any

from hipkb.engine.record import Inference, Justification, Score
from hipkb.knowledge.rules import KnowledgeBase
from hipkb.results.exclusions import exclusion_data, exclusions, score_data
from hipkb.results.partial import Analyzer
from hipkb.results.questions import next_questions

FORMAT = "hipkb-result/1"
FEW_FINDINGS = 4


def build_result(kb: KnowledgeBase, inference: Inference, *, questions: bool = True) -> dict[str, Any]:
    """The result of one case, as the result format defines it.

    *questions*: False leaves the next questions out (an empty list), for a
    caller that does not read them (they are most of the cost of a result).
    """
    case = inference.case
    triage, running = inference.triage, inference.running
    assert triage is not None and running is not None
    known = sum(1 for _ in case.facts())
    analyzer = Analyzer(kb, inference)
    return {
        "format": FORMAT,
        "case_id": case.case_id,
        "kb": {"name": kb.name, "version": kb.version, "rules": len(kb.rules)},
        "triage": {"level": triage.value, "summary": triage.text, "because": list(triage.because)},
        "running": {
            "advice": running.value,
            "because": list(running.because),
            "reasons": _texts(kb, running.because),
        },
        "red_flags": _red_flags(kb, inference),
        "referrals": _referrals(kb, inference),
        "hypotheses": [_hypothesis(kb, score) for score in inference.ranked()],
        "exclusions": exclusion_data(kb, exclusions(kb, inference, analyzer)),
        "scores": score_data(kb, inference),
        "next_questions": [
            {"fact": q.fact, "question": q.question, "why": q.why}
            for q in next_questions(kb, inference, analyzer=analyzer)
        ] if questions else [],
        "derived": [
            {"fact": fact, "because": [_why(j) for j in justs]}
            for fact, justs in sorted(inference.derived.items())
        ],
        "fired": [
            {"step": f.step, "rule": f.rule, "asserted": f.asserted, "facts": list(f.facts)}
            for f in inference.firings
        ],
        "findings": {"known": known, "unknown": len(kb.vocabulary.fields) - known},
        "warnings": _warnings(kb, inference, known),
    }


def _texts(kb: KnowledgeBase, rule_ids: tuple[str, ...]) -> list[str]:
    texts = []
    for rid in rule_ids:
        rule = kb.rule(rid)
        if rule is not None:
            text = rule.conclusion.text or rule.title
            if text not in texts:
                texts.append(text)
    return texts


def _why(j: Justification) -> dict[str, Any]:
    return {"rule": j.rule, "facts": list(j.facts)}


def _red_flags(kb: KnowledgeBase, inference: Inference) -> list[dict[str, Any]]:
    flags = []
    for flag_id, justs in inference.red_flags.items():
        flag = kb.red_flags[flag_id]
        facts = sorted({fact for j in justs for fact in j.facts})
        flags.append({
            "id": flag_id,
            "label": flag.label,
            "emergency": flag.emergency,
            "because": sorted({j.rule for j in justs}),
            "facts": facts,
        })
    return sorted(flags, key=lambda f: (not f["emergency"], f["id"]))


def _referrals(kb: KnowledgeBase, inference: Inference) -> list[dict[str, Any]]:
    referrals = []
    for rid, justs in sorted(inference.referrals.items()):
        rules = sorted({j.rule for j in justs})
        referrals.append({
            "id": rid,
            "label": kb.referrals[rid].label,
            "reason": _texts(kb, tuple(rules))[0],
            "because": rules,
        })
    return referrals


def _hypothesis(kb: KnowledgeBase, score: Score) -> dict[str, Any]:
    def item(e) -> dict[str, Any]:
        rule = kb.rule(e.rule)
        return {
            "rule": e.rule,
            "weight": abs(e.cf),
            "facts": list(e.facts),
            "source": rule.source if rule else "",
            "title": rule.title if rule else "",
        }

    return {
        "id": score.hypothesis,
        "label": kb.hypotheses[score.hypothesis].label,
        "certainty": score.certainty,
        "band": score.band,
        "codes": [code.as_dict() for code in kb.codes.hypothesis(score.hypothesis)],
        "support": [item(e) for e in score.evidence if e.cf > 0],
        "against": [item(e) for e in score.evidence if e.cf < 0],
    }


def _warnings(kb: KnowledgeBase, inference: Inference, known: int) -> list[str]:
    warnings = []
    if inference.red_flags:
        warnings.append("Red flags are present: rule out serious pathology first; "
                        "the differential below is secondary.")
    if known <= FEW_FINDINGS:
        warnings.append(f"Little is known: the case gives {known} finding(s). "
                        "Answer the next questions before relying on the differential.")
    if not inference.ranked():
        warnings.append("No hypothesis is supported by what the case says.")
    return warnings


def to_json(result: dict[str, Any]) -> str:
    """One line of JSON, byte-identical for equal results.

    A result is a tree built afresh for each case (no container appears in
    it twice), so the encoder's check for circular references, a set
    insertion per dict and list, finds nothing: 15% of the encoding, skipped.
    """
    return json.dumps(result, ensure_ascii=False, separators=(", ", ": "), allow_nan=False, check_circular=False)
