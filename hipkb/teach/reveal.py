"""The staged reveal: a case reasoned on at every stage, and how each hypothesis moved between stages.

At stage *n* the engine sees the findings of the first *n* stages and
nothing else (the rest are unknown, and unknown is never no), so what hipkb
concludes at a stage is what a clinician could conclude from what the class
has heard so far. :func:`run_stages` gives one :class:`StageRun` per stage;
:func:`stage_summary` says in words what hipkb concludes at one;
:func:`movement` follows each hypothesis's certainty and, for the alarm
hypotheses, its exclusion status from stage to stage, with the rules that
moved it, as data for a small chart and a sentence each for those who cannot
see the chart.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from hipkb.engine.reasoner import Reasoner
from hipkb.engine.record import Inference
from hipkb.knowledge.case import Case
from hipkb.knowledge.rules import KnowledgeBase
from hipkb.results import explain as ex
from hipkb.results.result import build_result
from hipkb.teach import words
from hipkb.teach.stages import Stage, case_at, new_findings

#: Hypotheses the chart follows: at most this many, those that ever ranked in
#: the top three or were an alarm hypothesis not excluded at some stage.
CHART_ROWS = 8
TOP = 3


@dataclass(frozen=True)
class StageRun:
    """What hipkb concludes at one stage, from the findings known so far."""

    number: int
    stage: Stage
    case: Case
    inference: Inference
    result: dict[str, Any]
    revealed: tuple[str, ...]


def run_stages(reasoner: Reasoner, case: Case, stages: Sequence[Stage], upto: int | None = None) -> list[StageRun]:
    """The case reasoned on at each of its *stages* (the first *upto* of them), findings of later ones unknown."""
    runs = []
    stages = tuple(stages)
    last = len(stages) if upto is None else max(1, min(upto, len(stages)))
    for n in range(1, last + 1):
        staged = case_at(case, stages, n)
        inference = reasoner.infer(staged)
        runs.append(StageRun(n, stages[n - 1], staged, inference, build_result(reasoner.kb, inference),
                             tuple(new_findings(case, stages[n - 1]))))
    return runs


def stage_summary(kb: KnowledgeBase, run: StageRun) -> dict[str, Any]:
    """What hipkb concludes at a stage, in words: findings revealed, top hypotheses, triage, running, red flags,
    alarm hypotheses and their status, referrals, the next questions."""
    result = run.result
    return {
        "number": run.number,
        "stage": run.stage.to_dict(),
        "revealed": [{"fact": f, "text": words.finding(kb, f)} for f in run.revealed],
        "top": [{"id": h["id"], "label": words.hypothesis(kb, h["id"]), "certainty": h["certainty"],
                 "band": h["band"]} for h in result["hypotheses"][:TOP]],
        "ranked": len(result["hypotheses"]),
        "triage": {"level": result["triage"]["level"], "text": words.level(result["triage"]["level"]),
                   "summary": result["triage"]["summary"]},
        "running": {"advice": result["running"]["advice"], "text": words.advice(result["running"]["advice"]),
                    "reasons": list(result["running"].get("reasons", []))},
        "red_flags": [{"id": f["id"], "label": words.red_flag(kb, f["id"])} for f in result["red_flags"]],
        "exclusions": [{"id": e["id"], "label": words.hypothesis(kb, e["id"]), "status": e["status"],
                        "text": words.status(e["status"]),
                        "to_exclude": [q["question"] for q in e.get("to_exclude", []) if not q.get("unsafe")]}
                       for e in result.get("exclusions", [])],
        "referrals": [{"id": r["id"], "label": r["label"]} for r in result.get("referrals", [])],
        "next_questions": [{"fact": q["fact"], "question": q["question"]} for q in result["next_questions"][:TOP]],
    }


def _cell(result: dict[str, Any], hid: str) -> dict[str, Any]:
    ranked = [h["id"] for h in result["hypotheses"]]
    hyp = next((h for h in result["hypotheses"] if h["id"] == hid), None)
    status = next((e["status"] for e in result.get("exclusions", []) if e["id"] == hid), None)
    return {"certainty": hyp["certainty"] if hyp else 0.0, "band": hyp["band"] if hyp else None,
            "rank": ranked.index(hid) + 1 if hyp else None, "status": status}


def _evidence(run: StageRun, hid: str) -> dict[str, tuple[float, tuple[str, ...]]]:
    """Every weight on *hid* at a stage, for and against, also when they cancel out (certainty 0 is not ranked)."""
    score = run.inference.scores.get(hid)
    return {e.rule: (e.cf, e.facts) for e in score.evidence} if score else {}


def _votes(result: dict[str, Any], hid: str) -> dict[str, tuple[str, tuple[str, ...]]]:
    entry = next((e for e in result.get("exclusions", []) if e["id"] == hid), None)
    return {v["rule"]: (v["status"], tuple(v["facts"])) for v in (entry or {}).get("votes", [])}


def _because(kb: KnowledgeBase, before: StageRun | None, after: StageRun, hid: str) -> list[dict[str, Any]]:
    """The rules whose weight or status vote came or went between two stages, with their findings in words."""
    old = _evidence(before, hid) if before else {}
    new = _evidence(after, hid)
    moved = []
    for rule in sorted(set(old) | set(new), key=lambda r: (-abs((new.get(r) or old[r])[0]), r)):
        if rule in new and rule not in old:
            weight, facts = new[rule]
            change = "for" if weight > 0 else "against"
        elif rule in old and rule not in new:
            weight, facts = old[rule]
            change = "no longer"
        else:
            continue
        ref = ex.rule_ref(kb, rule)
        moved.append({"rule": rule, "title": ref["title"], "source": ref["source"], "weight": weight,
                      "change": change, "facts": [words.finding(kb, f) for f in facts]})
    old_votes = _votes(before.result, hid) if before else {}
    for rule, (status, facts) in sorted(_votes(after.result, hid).items()):
        if rule not in old_votes:
            ref = ex.rule_ref(kb, rule)
            moved.append({"rule": rule, "title": ref["title"], "source": ref["source"], "weight": None,
                          "change": f"votes {words.status(status)}", "facts": [words.finding(kb, f) for f in facts]})
    return moved


def movement(kb: KnowledgeBase, runs: Sequence[StageRun]) -> dict[str, Any]:
    """Each followed hypothesis's certainty and status at every stage, what moved it, and a sentence each.

    Followed: those that ranked in the top three at some stage, then alarm
    hypotheses that were suspected or not excluded at some stage, at most
    :data:`CHART_ROWS`, in the order of the last stage's ranking.
    """
    results = [run.result for run in runs]
    last = results[-1] if results else {"hypotheses": []}
    final_rank = {h["id"]: n for n, h in enumerate(last["hypotheses"])}
    followed: list[str] = []
    for result in results:
        for h in result["hypotheses"][:TOP]:
            if h["id"] not in followed:
                followed.append(h["id"])
    for result in results:
        for e in result.get("exclusions", []):
            if e["status"] != "excluded" and e["id"] not in followed:
                followed.append(e["id"])
    alarms = set(kb.safety.alarm_hypotheses)
    followed.sort(key=lambda hid: (final_rank.get(hid, len(final_rank)), hid))
    rows = []
    for hid in followed[:CHART_ROWS]:
        cells = [_cell(result, hid) for result in results]
        moves = [_because(kb, runs[n - 1] if n else None, run, hid) for n, run in enumerate(runs)]
        rows.append({"id": hid, "label": words.hypothesis(kb, hid), "alarm": hid in alarms, "cells": cells,
                     "moves": moves, "text": _sentence(kb, runs, hid, cells)})
    return {
        "stages": [{"number": run.number, "id": run.stage.id, "label": run.stage.label} for run in runs],
        "rows": rows,
        "others": max(0, len(followed) - CHART_ROWS),
    }


def verify_case(kb: KnowledgeBase, reasoner: Reasoner, manifest: Any, case: Any) -> list[str]:
    """What a teaching case teaches and hipkb does not conclude at its last stage, one line each.

    The answer must be hipkb's first-ranked hypothesis, its red flags raised,
    and the case's own ``expect`` block met: an answer key that contradicts
    the engine would teach the class the wrong thing.
    """
    from hipkb.verify.regression import expect_failures

    runs = run_stages(reasoner, case.case, case.stages(manifest))
    result = runs[-1].result
    problems = []
    ranked = [h["id"] for h in result["hypotheses"]]
    if not ranked or ranked[0] != case.answer:
        problems.append(f"answer.hypothesis: {case.answer} is not ranked first at the last stage "
                        f"(first: {ranked[0] if ranked else 'nothing'})")
    raised = {f["id"] for f in result["red_flags"]}
    for flag in case.red_flags:
        if flag not in raised:
            problems.append(f"answer.red_flags: {flag} is not raised at the last stage")
    full = reasoner.infer(case.case)
    problems.extend(f"case.expect: {p}" for p in expect_failures(case.case, build_result(kb, full),
                                                                  kb.safety.unsafe_tests))
    return problems


def _sentence(kb: KnowledgeBase, runs: Sequence[StageRun], hid: str, cells: list[dict[str, Any]]) -> str:
    parts = []
    for run, cell in zip(runs, cells, strict=True):
        bits = [f"{cell['band']} ({cell['certainty']:.2f})" if cell["band"] else "not ranked"]
        if cell["status"]:
            bits.append(words.status(cell["status"]))
        parts.append(f"{run.stage.label.lower()}: {', '.join(bits)}")
    return f"{words.hypothesis(kb, hid)}: " + "; ".join(parts) + "."


__all__ = ["StageRun", "movement", "run_stages", "stage_summary", "verify_case"]
