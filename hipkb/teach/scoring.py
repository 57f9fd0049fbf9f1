"""Scoring a student's commitment at a stage against what hipkb concludes from the same findings.

At each stage the student commits to a leading hypothesis, a triage level
and the next question (or test). :func:`answer_key` works out, from the
stage's inference and result, what every possible choice is worth and why,
so that a commitment is scored by looking it up (:func:`score`): the web
page gets the key with the stage and scores in the browser, and nothing the
student chooses leaves it.

Points (at most 3 a stage):

- leading hypothesis: 1 for hipkb's first (or one tied with it); 1/2 for one
  of its top three, or an alarm hypothesis it holds suspected (rule out the
  worst first: leading with a suspected alarm is never wrong); else 0;
- triage: 1 for hipkb's level; 1/2 for one level more urgent; 0 for any
  level less urgent (under-triage is the miss that harms) or two more;
- next question: 1 for one of hipkb's top three next questions (or the
  same finding asked another way); 1/2 for any of its next questions; 0
  otherwise, and 0 with a warning for a test that is unsafe now
  (:func:`hipkb.teach.feedback.unsafe_test`).
"""

from __future__ import annotations

from typing import Any

from hipkb.engine.record import Inference
from hipkb.knowledge.rules import KnowledgeBase
from hipkb.knowledge.scales import TRIAGE_LEVELS, triage_rank
from hipkb.teach import words
from hipkb.teach.feedback import unsafe_test

PARTS = ("hypothesis", "triage", "question")
TOP = 3


def answer_key(kb: KnowledgeBase, inference: Inference, result: dict[str, Any]) -> dict[str, Any]:
    """What every choice is worth at this stage: ``{"hypothesis": {id: {points, text}}, "triage": {...},
    "question": {path: {points, text, unsafe}}, "best": {...}, "max": 3}``."""
    return {
        "hypothesis": _hypotheses(kb, result),
        "triage": _triage(result),
        "question": _questions(kb, inference, result),
        "best": {
            "hypothesis": [h["id"] for h in result["hypotheses"][:1]],
            "triage": result["triage"]["level"],
            "question": [q["fact"] for q in result["next_questions"][:TOP]],
        },
        "max": len(PARTS),
    }


def _hypotheses(kb: KnowledgeBase, result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    ranked = result["hypotheses"]
    top = ranked[0]["certainty"] if ranked else None
    suspected = {e["id"] for e in result.get("exclusions", []) if e["status"] == "suspected"}
    key = {}
    for hid in kb.hypotheses:
        hyp = next(((n, h) for n, h in enumerate(ranked, start=1) if h["id"] == hid), None)
        if hyp is None:
            points = 0.5 if hid in suspected else 0.0
            text = ("hipkb does not rank it yet, but holds it suspected: keeping an alarm in view is right"
                    if points else "hipkb does not rank it from the findings known so far")
        else:
            n, h = hyp
            where = "first" if n == 1 else f"{words.ordinal(n)} of {len(ranked)}"
            points = 1.0 if h["certainty"] == top else 0.5 if n <= TOP or hid in suspected else 0.0
            text = f"hipkb ranks it {where} ({h['band']}, certainty {h['certainty']:.2f})"
            if hid in suspected and n > TOP:
                text += "; it is an alarm hypothesis hipkb holds suspected"
        key[hid] = {"points": points, "text": text}
    return key


def _triage(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    level = result["triage"]["level"]
    want = triage_rank(level)
    key = {}
    for choice in TRIAGE_LEVELS:
        gap = want - triage_rank(choice)  # > 0: more urgent than hipkb
        if gap == 0:
            key[choice] = {"points": 1.0, "text": f"hipkb says {words.level(level)} too"}
        elif gap < 0:
            key[choice] = {"points": 0.0, "text": f"hipkb says {words.level(level)}: under-triage is the miss "
                                                  "that harms"}
        else:
            key[choice] = {"points": 0.5 if gap == 1 else 0.0,
                           "text": f"hipkb says {words.level(level)}: more urgent than the findings call for"}
    return key


def _questions(kb: KnowledgeBase, inference: Inference, result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    asked = [q["fact"] for q in result["next_questions"]]
    rank: dict[str, int] = {}
    for n, path in enumerate(asked, start=1):
        for same in (path, *sorted(kb.vocabulary.same_finding(path))):
            rank.setdefault(same, n)
    known = {path for path, _ in inference.case.facts()}
    key = {}
    for path in kb.vocabulary.fields:
        if path in known:
            continue
        warning = unsafe_test(kb, inference, result, path)
        place = rank.get(path)
        if warning is not None:
            key[path] = {"points": 0.0, "text": "a test that is unsafe now (see the warning)", "unsafe": warning}
            continue
        if place is None:
            text = "not among hipkb's next questions at this stage"
            points = 0.0
        else:
            points = 1.0 if place <= TOP else 0.5
            text = f"hipkb's {words.ordinal(place)} next question of {len(asked)}"
        key[path] = {"points": points, "text": text, "unsafe": None}
    return key


def score(key: dict[str, Any], hypothesis: str, triage: str, question: str) -> dict[str, Any]:
    """A commitment scored against an :func:`answer_key`: each part's points and why, the total, any warning."""
    parts = []
    for part, choice in zip(PARTS, (hypothesis, triage, question), strict=True):
        entry = key[part].get(choice)
        if entry is None:
            entry = {"points": 0.0, "text": "not a choice at this stage (a finding already known, or unknown id)"}
        parts.append({"part": part, "choice": choice, "points": entry["points"], "text": entry["text"]})
    warning = key["question"].get(question, {}).get("unsafe")
    return {"parts": parts, "total": sum(p["points"] for p in parts), "max": key["max"], "warning": warning}


__all__ = ["PARTS", "answer_key", "score"]
