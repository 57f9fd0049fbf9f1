"""The one page of assessment a clinician files: what to do, how soon, and why, in plain words.

Every clinician report opens with it (md, txt, HTML, PDF) and the case page
shows it first: red flags, triage with what to do and how soon, running
advice, the top three hypotheses with one line each of why, the alarm
hypotheses not yet excluded with how to exclude them, referrals, and the
next three questions or tests. It is built from the result alone (and the
knowledge base's words), so every face says the same thing; no rule id or
field path appears in it: those belong to the report's appendix.

Exclusion status (``result["exclusions"]``, issue 19) is read when the
result has it: items ``suspected`` or ``not_excluded`` are listed with the
questions that would exclude them; a result without the key says nothing of
it (``"not_excluded": None``), which is not the same as an empty list. A
step the result marks ``unsafe`` (a loading test such as hopping, which can
complete a fracture) is never suggested while the item is not excluded: it
is named only as withheld.
"""

from __future__ import annotations

from typing import Any

from hipkb.knowledge import conditions as cond
from hipkb.knowledge.rules import KnowledgeBase
from hipkb.report.words import advice_words, brief, finding_words, level_words, plain, short_label, why_line
from hipkb.results import explain as ex

TOP = 3
NEXT = 3
REASONS = 2  # of the running advice, on the page; the evidence gives them all
EXCLUDE = 2  # questions that would exclude a group of alarm hypotheses, on the page; the evidence gives them all
STATUS_WORDS = {"suspected": "Suspected", "not_excluded": "Not yet excluded"}
#: Every status, for the evidence, which lists the excluded too.
ALL_STATUS_WORDS = {**STATUS_WORDS, "excluded": "Excluded"}


def assessment(kb: KnowledgeBase, result: dict[str, Any], decisions: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The assessment page of one result, as plain data (see the module's docstring)."""
    ranked = result["hypotheses"]
    return {
        "red_flags": [
            {"label": flag.get("label") or kb.red_flags[flag["id"]].label, "emergency": bool(flag.get("emergency")),
             "findings": "; ".join(dict.fromkeys(finding_words(kb, f) for f in flag["facts"]))}
            for flag in result["red_flags"]
        ],
        "warnings": list(result.get("warnings", [])),
        "triage": _triage(kb, result, decisions.get("triage", {})),
        "running": _running(kb, result, decisions.get("running", {})),
        "top": [_top(kb, h, rank) for rank, h in enumerate(ranked[:TOP], start=1)],
        "more": max(0, len(ranked) - TOP),
        "not_excluded": (items := not_excluded(kb, result)),
        "not_excluded_groups": None if items is None else group_by_questions(items),
        "referrals": [{"label": r["label"], "reason": plain(kb, r["reason"])} for r in result.get("referrals", [])],
        # Each with its first reason on the page (the evidence gives them all), so the page stays one page.
        "next": [{"question": q["question"], "why": _first_reason(plain(kb, q.get("why", "")))}
                 for q in result["next_questions"][:NEXT]],
        "next_more": max(0, len(result["next_questions"]) - NEXT),
    }


def _first_reason(why: str) -> str:
    """The first of a question's reasons (``a; b`` -> ``a``), split at ``; `` outside brackets."""
    depth = 0
    for i, ch in enumerate(why):
        depth += (ch == "(") - (ch == ")")
        if ch == ";" and depth == 0:
            return why[:i]
    return why


def _follows(kb: KnowledgeBase, decision: dict[str, Any]) -> str:
    names = [short_label(f["label"]) for f in decision.get("red_flags", [])]
    names += [short_label(h["label"]) for h in decision.get("hypotheses", [])]
    return ", ".join(names)


def _triage(kb: KnowledgeBase, result: dict[str, Any], decision: dict[str, Any]) -> dict[str, Any]:
    level = result["triage"]["level"]
    general = ex.TRIAGE_TEXT.get(level, "")
    how_soon = general.partition(": ")[2] or general
    return {"level": level, "words": level_words(level), "how_soon": how_soon,
            "what": plain(kb, result["triage"].get("summary", "")), "follows": _follows(kb, decision),
            "default": not result["triage"]["because"]}


def _running(kb: KnowledgeBase, result: dict[str, Any], decision: dict[str, Any]) -> dict[str, Any]:
    advice = result["running"]["advice"]
    reasons = _reasons(kb, result)
    return {"advice": advice, "words": advice_words(advice), "reasons": reasons[:REASONS],
            "more_reasons": max(0, len(reasons) - REASONS),
            "follows": _follows(kb, decision), "default": not result["running"]["because"]}


def _reasons(kb: KnowledgeBase, result: dict[str, Any]) -> list[str]:
    """The running advice's reasons, most telling first: a red flag's, then by the rank of the hypothesis
    each rule reads (the top hypothesis's reason before the fifth's), then the rest, each once."""
    rank = {h["id"]: n for n, h in enumerate(result["hypotheses"], start=1)}

    def weight(rule_id: str) -> int:
        rule = kb.rule(rule_id)
        found = [0 if c.kind == cond.RED_FLAG else rank.get(c.subject, 90)
                 for c in (rule.conditions if rule else ()) if c.kind in (cond.RED_FLAG, cond.HYPOTHESIS)]
        return min(found, default=99)

    texts = []
    for rule_id in sorted(result["running"]["because"], key=weight):
        rule = kb.rule(rule_id)
        text = plain(kb, (rule.conclusion.text or rule.title) if rule else rule_id)
        if text not in texts:
            texts.append(text)
    return texts


def _top(kb: KnowledgeBase, h: dict[str, Any], rank: int) -> dict[str, Any]:
    why = why_line(kb, h)
    return {"rank": rank, "label": h["label"], "short": short_label(h["label"]), "band": h["band"],
            "certainty_text": f"{h['certainty']:.2f}", "why": why["for"], "against": why["against"]}


def group_by_questions(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Items that the same questions would exclude, together: ``[{"items", "to_exclude"}]``.

    Bone stress injuries of three sites are excluded by the same questions
    (walking, rest pain, single-leg stance): a page says them once, so the
    assessment stays one page.
    """
    groups: dict[tuple[str, ...], dict[str, Any]] = {}
    for item in items:
        key = tuple(item["to_exclude"])
        group = groups.setdefault(key, {"items": [], "to_exclude": item["to_exclude"], "withheld": []})
        group["items"].append(item)
        group["withheld"] += [w for w in item.get("withheld", []) if w not in group["withheld"]]
    for group in groups.values():
        # On the page: the first questions without their bracketed detail; the evidence lists them all.
        group["to_exclude_brief"] = [brief(q) for q in group["to_exclude"][:EXCLUDE]]
        group["to_exclude_more"] = max(0, len(group["to_exclude"]) - EXCLUDE)
    return list(groups.values())


def exclusion_steps(kb: KnowledgeBase, item: dict[str, Any]) -> tuple[list[str], list[str]]:
    """The questions that would exclude an item, in the vocabulary's words, and the loading tests withheld.

    A step is ``{"fact", "question"}`` as issue 19 writes it (``"unsafe": true``
    on a loading test), or a bare field path as the result format suggests.
    Unsafe steps are never returned as questions: only their names, as withheld.
    """
    questions: list[str] = []
    withheld: list[str] = []
    for step in item.get("to_exclude", []):
        fact = step.get("fact", "") if isinstance(step, dict) else str(step)
        if isinstance(step, dict) and step.get("unsafe"):
            words = brief(ex.field_words(fact)) if fact else plain(kb, str(step.get("question", "")))
            if words not in withheld:
                withheld.append(words)
            continue
        question = step.get("question", "") if isinstance(step, dict) else ""
        if not question:
            spec = kb.vocabulary.fields.get(fact)
            question = spec.question if spec and spec.question else plain(kb, fact)
        if question not in questions:
            questions.append(question)
    return questions, withheld


def not_excluded(kb: KnowledgeBase, result: dict[str, Any]) -> list[dict[str, Any]] | None:
    """The alarm hypotheses suspected or not yet excluded, with how to exclude each; None without the key."""
    items = result.get("exclusions")
    if items is None:
        return None
    out = []
    for item in items:
        status = item.get("status")
        if status not in STATUS_WORDS:
            continue
        hyp = kb.hypotheses.get(item.get("id", ""))
        label = item.get("label") or (hyp.label if hyp else str(item.get("id", "")))
        questions, withheld = exclusion_steps(kb, item)
        own = f"hypothesis.{item.get('id', '')}="  # its own certainty: the band says it (``possible``)
        findings = "; ".join(dict.fromkeys(f[len(own):] if f.startswith(own) else brief(finding_words(kb, f))
                                           for f in item.get("facts", [])))
        out.append({"label": label, "name": brief(label), "short": short_label(label), "status": status,
                    "status_words": STATUS_WORDS[status], "findings": findings, "to_exclude": questions,
                    "withheld": withheld,
                    "line": f"{brief(label)}: {STATUS_WORDS[status].lower()}" + (f" ({findings})" if findings else "")})
    return out
