"""Rule out the worst first: each alarm hypothesis's exclusion status, and what would exclude it.

The engine's RESOLVE step settles one status per alarm hypothesis that some
status rule spoke of: ``suspected`` (its own signs), ``excluded`` (findings or
imaging that exclude it) or ``not_excluded`` (pain where it can present, and
nothing recorded that excludes it). Silence never excludes: a hypothesis no
status rule spoke of is not listed, and one that is not excluded is listed
even at certainty 0, with the unknown findings that would exclude it, found
as the next questions are: what the rules concluding ``excluded`` wait on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hipkb.engine.record import Inference
from hipkb.knowledge.index import index
from hipkb.knowledge.kinds import Kind
from hipkb.knowledge.rules import KnowledgeBase
from hipkb.results.partial import Analyzer

# Not the order in which statuses outweigh each other: what a clinician must act on first.
_SHOWN_ORDER = {"suspected": 0, "not_excluded": 1, "excluded": 2}


@dataclass(frozen=True)
class Exclusion:
    """Where one alarm hypothesis stands for a case."""

    hypothesis: str
    status: str
    because: tuple[str, ...]
    facts: tuple[str, ...]
    #: Unknown findings that would exclude it, safe to ask now, in the vocabulary's order.
    to_exclude: tuple[str, ...]
    #: Findings that would also be needed but only a loading test gives (not suggested while it stands).
    unsafe: tuple[str, ...]
    #: Every status any rule voted for, with the rule and the facts it read: how the findings moved it.
    votes: tuple[tuple[str, str, tuple[str, ...]], ...] = ()


def exclusions(kb: KnowledgeBase, inference: Inference, analyzer: Analyzer | None = None) -> list[Exclusion]:
    """The status of every alarm hypothesis the case brought into view: suspected, not excluded, excluded."""
    if not inference.exclusions:
        return []
    analyzer = analyzer or Analyzer(kb, inference)
    rules = index(kb)
    vocabulary = kb.vocabulary
    unsafe = set(inference.avoid)
    unsafe.update(other for path in inference.avoid for other in vocabulary.same_finding(path))
    order = vocabulary.position
    found = []
    for hypothesis, choice in inference.exclusions.items():
        justs = inference.status_votes.get(f"{hypothesis}={choice.value}", [])
        facts = sorted({fact for j in justs for fact in j.facts})
        wanted: set[str] = set()
        if choice.value != "excluded":
            for rule in rules.concluding(Kind.STATUS, hypothesis):
                if rule.conclusion.value == "excluded":
                    wanted |= analyzer.waits_on(rule)
        ordered = sorted(wanted, key=lambda p: order.get(p, len(order)))
        votes = tuple((status, j.rule, j.facts) for status in _SHOWN_ORDER
                      for j in inference.status_votes.get(f"{hypothesis}={status}", []))
        found.append(Exclusion(hypothesis, choice.value, choice.because, tuple(facts),
                               tuple(p for p in ordered if p not in unsafe),
                               tuple(p for p in ordered if p in unsafe), votes))
    return sorted(found, key=lambda e: (_SHOWN_ORDER[e.status], e.hypothesis))


def exclusion_data(kb: KnowledgeBase, found: list[Exclusion]) -> list[dict[str, Any]]:
    """The result's ``exclusions``: suspected first, then not excluded, then excluded, each by id."""
    fields = kb.vocabulary.fields
    return [{
        "id": e.hypothesis,
        "label": kb.hypotheses[e.hypothesis].label,
        "status": e.status,
        "because": list(e.because),
        "facts": list(e.facts),
        "to_exclude": [{"fact": path, "question": fields[path].question} for path in e.to_exclude]
        + [{"fact": path, "question": fields[path].question, "unsafe": True} for path in e.unsafe],
        "votes": [{"status": status, "rule": rule, "facts": list(facts)} for status, rule, facts in e.votes],
    } for e in found]


def score_data(kb: KnowledgeBase, inference: Inference) -> list[dict[str, Any]]:
    """The result's ``scores``: each risk score the case's findings add up, with the points that counted."""
    found = []
    for sid, risk in sorted(inference.risk.items()):
        spec = kb.scores[sid]
        found.append({
            "id": sid,
            "label": spec.label,
            "total": risk.total,
            "band": risk.band,
            "components": [{"component": item.component, "label": spec.components[item.component],
                            "points": item.points, "rule": item.rule, "facts": list(item.facts)}
                           for item in risk.counted],
            "source": spec.source,
        })
    return found


__all__ = ["Exclusion", "exclusion_data", "exclusions", "score_data"]
