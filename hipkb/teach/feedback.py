"""Feedback that teaches: WHY NOT for any hypothesis a student picks, and the unsafe-test warning.

- :func:`why_not_pick` answers "why not my hypothesis?" for any hypothesis
  of the knowledge base, ranked or not: where hipkb ranks it and what it
  ranks above it, the findings that count for and against it, the unknown
  findings its rules wait on (as questions), what the case says that rules
  its rules out, and, for an alarm hypothesis, where it stands (rule out the
  worst first). All in the knowledge base's words, never in field paths.
- :func:`unsafe_test` warns when a student chooses a test that is unsafe
  now: a loading test of ``safety.unsafe_tests`` in ``rules/kb.yaml`` that a
  rule of the knowledge base forbids for this case (an ``avoid_asking``
  rule that fired), naming the alarm hypotheses the result's ``exclusions``
  hold suspected or not excluded, with the reason and source of the rule
  that forbids it. A loading test the knowledge base allows now (the safe
  questions answered and negative, no risk) gets no warning.
"""

from __future__ import annotations

from typing import Any

from hipkb.engine.record import Inference
from hipkb.knowledge.kinds import Kind
from hipkb.knowledge.rules import KnowledgeBase
from hipkb.results import explain as ex
from hipkb.results.partial import UNMET, Analyzer
from hipkb.teach import words

OPEN = ("suspected", "not_excluded")


def unsafe_test(kb: KnowledgeBase, inference: Inference, result: dict[str, Any], path: str) -> dict[str, Any] | None:
    """The warning for choosing test *path* now, or None when it is safe (or not a test the kb holds unsafe).

    Returns ``{"fact", "test", "alarms": [{"id", "label", "status"}], "rules":
    [{"id", "title", "reason", "source"}], "text"}``; the first rule is the
    one that speaks of an open alarm hypothesis, when one does.
    """
    vocabulary = kb.vocabulary
    same = {path} | set(vocabulary.same_finding(path))
    if not same & set(kb.safety.unsafe_tests):
        return None
    justs = [j for p in sorted(same) for j in inference.avoid.get(p, [])]
    if not justs:
        return None
    alarms = [{"id": e["id"], "label": words.hypothesis(kb, e["id"]), "status": e["status"],
               "text": words.status(e["status"])}
              for e in result.get("exclusions", []) if e["status"] in OPEN]
    open_ids = {a["id"] for a in alarms}
    rules: list[dict[str, Any]] = []
    for j in justs:
        if any(r["id"] == j.rule for r in rules):
            continue
        rule = kb.rule(j.rule)
        if rule is None:
            continue
        speaks = any(c.subject in open_ids for c in rule.conditions)
        rules.append({"id": rule.id, "title": rule.title, "reason": rule.conclusion.text, "source": rule.source,
                      "speaks": speaks})
    rules.sort(key=lambda r: (not r.pop("speaks"), r["id"]))
    if not rules:
        return None
    test = words.question(kb, path)
    if alarms:
        held = [f"{a['label']} is {a['text']}" for a in alarms]
        joined = ", ".join(held[:-1]) + " and " + held[-1] if len(held) > 1 else held[0]
        opening = f"Unsafe now: this test loads the bone while {joined}."
    else:
        opening = "Unsafe now: a rule of the knowledge base forbids this test for this runner."
    text = f"{opening} {rules[0]['reason']} ({rules[0]['title']}; source: {rules[0]['source']})"
    return {"fact": path, "test": test, "alarms": alarms, "rules": rules, "text": " ".join(text.split())}


def why_not_pick(kb: KnowledgeBase, inference: Inference, result: dict[str, Any], hid: str,
                 analyzer: Analyzer | None = None) -> dict[str, Any]:
    """Why hipkb does not lead with hypothesis *hid* here (or why it does), in words.

    Returns ``{"id", "label", "rank", "ranked", "certainty", "band", "verdict",
    "above": [labels], "for": [findings], "against": [findings], "missing":
    [{"fact", "question"}], "ruled_out": [{"needs", "found", "rules"}],
    "exclusion": {"status", "text", "to_exclude": [questions]} | None,
    "learning": {...} | None}``.
    """
    info = ex.why_not(kb, inference, hid, analyzer)  # raises one line for an id the kb does not know
    analyzer = analyzer or Analyzer(kb, inference)
    ranked = [h["id"] for h in result["hypotheses"]]
    rank = ranked.index(hid) + 1 if hid in ranked else None
    label = words.hypothesis(kb, hid)
    above = [words.hypothesis(kb, other) for other in ranked[: (rank - 1 if rank else 3)]]

    def findings(items: list[dict[str, Any]]) -> list[str]:
        seen: list[str] = []
        for item in sorted(items, key=lambda e: -e["weight"]):
            for fact in item["facts"]:
                text = words.finding(kb, fact["fact"])
                if text not in seen:
                    seen.append(text)
        return seen

    ruled: dict[tuple[str, str], list[str]] = {}
    for rule in kb.rules:
        if rule.conclusion.kind is not Kind.SUPPORTS or rule.conclusion.target != hid:
            continue
        status = analyzer.rule(rule)
        if status.fired or not status.blocked:
            continue
        for c in status.conditions:
            if c.state == UNMET:
                key = (words.condition(kb, c.condition), words.finding(kb, c.found) if c.found else "")
                ruled.setdefault(key, []).append(rule.id)
    missing = [{"fact": m["fact"], "question": m["question"] or words.question(kb, m["fact"])}
               for m in info["missing"]]
    exclusion = None
    entry = next((e for e in result.get("exclusions", []) if e["id"] == hid), None)
    if entry is not None:
        exclusion = {"status": entry["status"], "text": words.status(entry["status"]),
                     "to_exclude": [q["question"] for q in entry.get("to_exclude", []) if not q.get("unsafe")],
                     "only_after": [q["question"] for q in entry.get("to_exclude", []) if q.get("unsafe")]}
    teaching = kb.teaching.get(hid)
    reply = {
        "id": hid, "label": label, "rank": rank, "ranked": len(ranked),
        "certainty": info["certainty"], "band": info["band"],
        "above": above, "for": findings(info["support"]), "against": findings(info["against"]),
        "missing": missing,
        "ruled_out": [{"needs": needs, "found": found, "rules": len(rules)} for (needs, found), rules in ruled.items()],
        "exclusion": exclusion,
        "learning": teaching.to_dict() if teaching else None,
    }
    reply["verdict"] = _verdict(reply)
    return reply


def _verdict(info: dict[str, Any]) -> str:
    label = info["label"]
    if info["rank"] == 1:
        return f"hipkb leads with {label} too ({info['band']}, certainty {info['certainty']:.2f})."
    parts = []
    if info["rank"]:
        parts.append(f"hipkb ranks {label} {words.ordinal(info['rank'])} of {info['ranked']} "
                     f"({info['band']}, certainty {info['certainty']:.2f}), below {', '.join(info['above'])}")
    elif info["certainty"] is not None and info["certainty"] <= 0:
        parts.append(f"hipkb does not rank {label}: what counts against it outweighs what counts for it")
    else:
        parts.append(f"hipkb does not rank {label}: nothing known so far counts for it")
    if info["ruled_out"]:
        parts.append(f"what the case says rules out {sum(r['rules'] for r in info['ruled_out'])} of its rules")
    if info["missing"]:
        parts.append(f"{len(info['missing'])} unknown finding(s) could still count for it")
    if info["exclusion"] and info["exclusion"]["status"] != "excluded":
        parts.append(f"as an alarm hypothesis it is {info['exclusion']['text']}: keep it in view")
    return "; ".join(parts) + "."


__all__ = ["OPEN", "unsafe_test", "why_not_pick"]
