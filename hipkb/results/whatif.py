"""What would change the call: the single-finding changes that change a case's conclusions.

Educators teach clinical reasoning by changing one finding and asking what
happens. :func:`what_if` does it for every finding at once: it builds each
variant of the case that differs in one finding (an unknown answered, or a
known value changed), runs the engine on it, and keeps the variants whose
triage, running advice or top hypothesis differ from the case's own.

Only fields some rule reads are varied (a finding no rule reads cannot change
a conclusion), and only values that can matter: each allowed value of a
choice, one value added to or taken from a set, and for numbers the edges of
the ranges rules test. That is about as many runs as the vocabulary has
values, on one compiled engine, with none of the result building that a full
report needs.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from hipkb.engine.reasoner import Reasoner
from hipkb.engine.record import Inference
from hipkb.errors import CaseError
from hipkb.knowledge import conditions as cond
from hipkb.knowledge.rules import KnowledgeBase
from hipkb.knowledge.scales import RUNNING_ADVICE, TRIAGE_LEVELS
from hipkb.knowledge.vocabulary import Field
from hipkb.load.case import Case, Value, validate

ASPECTS = ("triage", "running", "top")
@dataclass(frozen=True)
class Outcome:
    """The three things a call is made of."""

    triage: str
    running: str
    top: str | None

    @classmethod
    def of(cls, inference: Inference) -> Outcome:
        ranked = inference.ranked()
        return cls(
            inference.triage.value if inference.triage else TRIAGE_LEVELS[-1],
            inference.running.value if inference.running else RUNNING_ADVICE[-1],
            ranked[0].hypothesis if ranked else None,
        )


@dataclass(frozen=True)
class Variant:
    """One finding changed: *path* from *before* (None: unknown) to *after*."""

    path: str
    before: Value | None
    after: Value


def read_fields(kb: KnowledgeBase) -> list[Field]:
    """The vocabulary fields some rule tests, in vocabulary order."""
    read = {c.subject for rule in kb.rules for c in rule.conditions if c.kind == cond.CASE}
    return [spec for path, spec in kb.vocabulary.fields.items() if path in read]


def _thresholds(kb: KnowledgeBase, path: str, spec: Field) -> list[float]:
    """Numbers just inside and just outside every range a rule tests on *path*."""
    points: set[float] = set()
    for rule in kb.rules:
        for c in rule.conditions:
            if c.kind == cond.CASE and c.subject == path and c.op == "range":
                for edge, outward in zip(c.values, (-1, 1), strict=True):
                    if edge is not None:
                        # Whole steps beside whole thresholds: a severity of 5,
                        # not 5.5, is what a runner reports.
                        step = 1 if spec.type == "integer" or float(edge).is_integer() else 0.1
                        points.update((edge, round(edge + outward * step, 6)))
    lo = spec.minimum if spec.minimum is not None else float("-inf")
    hi = spec.maximum if spec.maximum is not None else float("inf")
    kept = sorted(p for p in points if lo <= p <= hi)
    return [int(p) if spec.type == "integer" or float(p).is_integer() else p for p in kept]


def variants(kb: KnowledgeBase, case: Case) -> Iterator[Variant]:
    """Every single-finding change worth trying on *case*, in vocabulary order."""
    for spec in read_fields(kb):
        path = spec.path
        current = case.get(path)
        if spec.type == "choice":
            for value in spec.values:
                if value != current:
                    yield Variant(path, current, value)
        elif spec.type == "set":
            items: tuple[str, ...] = current if isinstance(current, tuple) else ()
            for value in spec.values:
                changed = tuple(v for v in items if v != value) if value in items else (*items, value)
                if changed:
                    yield Variant(path, current, changed)
        elif spec.is_numeric:
            for number in _thresholds(kb, path, spec):
                if number != current:
                    yield Variant(path, current, number)


def _apply(kb: KnowledgeBase, case: Case, variant: Variant) -> Case | None:
    data = case.to_data()
    data.pop("expect", None)
    group, _, name = variant.path.partition(".")
    value = variant.after
    data.setdefault(group, {})[name] = list(value) if isinstance(value, tuple) else value
    try:
        return validate(data, kb.vocabulary, case.source or case.case_id, default_id=case.case_id)
    except CaseError:
        # A change the case format refuses (a set value that excludes
        # another, say) is not a case anyone could bring: skip it.
        return None


def what_if(reasoner: Reasoner, case: Case, baseline: Inference | None = None) -> dict[str, Any]:
    """The single-finding changes that change the triage, the running advice or the top hypothesis.

    Returns ``{"case_id", "baseline": {triage, running, top}, "tried",
    "changes": [{"fact", "question", "kind", "from", "to", "from_text",
    "to_text", "effects": {aspect: {"from", "to"}}}]}``; changes come safety
    first (those that change the triage, then the running advice, then only
    the top hypothesis), then in vocabulary order. Deterministic.
    """
    kb = reasoner.kb
    base = Outcome.of(baseline if baseline is not None else reasoner.infer(case))
    changes = []
    tried = 0
    for variant in variants(kb, case):
        changed = _apply(kb, case, variant)
        if changed is None:
            continue
        tried += 1
        outcome = Outcome.of(reasoner.infer(changed))
        effects = {
            aspect: {"from": getattr(base, aspect), "to": getattr(outcome, aspect)}
            for aspect in ASPECTS if getattr(base, aspect) != getattr(outcome, aspect)
        }
        if effects:
            changes.append(_change(kb, variant, effects))
    changes = _nearest_numbers(changes)
    order = {path: i for i, path in enumerate(kb.vocabulary.fields)}
    changes.sort(key=lambda c: (min(ASPECTS.index(a) for a in c["effects"]), order[c["fact"]]))
    return {
        "case_id": case.case_id,
        "baseline": {"triage": base.triage, "running": base.running, "top": base.top},
        "tried": tried,
        "changes": changes,
    }


def _nearest_numbers(changes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Of numeric changes with the same effect on one field, only the smallest change.

    Severity 3 -> 6 and 3 -> 7 changing the triage alike teach one thing: it
    is 6 that tips it. An unknown number keeps its lowest tipping value.
    """
    best: dict[tuple[str, str], dict[str, Any]] = {}
    kept = []
    for change in changes:
        if not isinstance(change["to"], int | float):
            kept.append(change)
            continue
        key = (change["fact"], change["effect_text"])
        start = change["from"] if isinstance(change["from"], int | float) else 0
        found = best.get(key)
        if found is None or abs(change["to"] - start) < abs(found["to"] - start):
            if found is not None:
                kept.remove(found)
            best[key] = change
            kept.append(change)
    return kept


def _words(spec: Field, value: Value | None) -> str:
    if value is None:
        return "unknown"
    if isinstance(value, tuple):
        return ", ".join(spec.values.get(v, v) for v in value) or "none"
    return spec.values.get(str(value), str(value))


def _plain(value: Value | None) -> Any:
    return list(value) if isinstance(value, tuple) else value


def _change(kb: KnowledgeBase, variant: Variant, effects: dict[str, dict[str, Any]]) -> dict[str, Any]:
    spec = kb.vocabulary.fields[variant.path]
    for effect in effects.values():
        for end in ("from", "to"):
            hid = effect[end]
            if hid in kb.hypotheses:
                effect[f"{end}_label"] = kb.hypotheses[hid].label
    names = {"triage": "triage", "running": "running", "top": "top hypothesis"}
    effect_text = "; ".join(
        f"{names[aspect]} {_outcome_words(e, 'from')} -> {_outcome_words(e, 'to')}" for aspect, e in effects.items()
    )
    return {
        "fact": variant.path,
        "question": spec.question,
        "kind": "answer" if variant.before is None else "change",
        "from": _plain(variant.before),
        "to": _plain(variant.after),
        "from_text": _words(spec, variant.before),
        "to_text": _words(spec, variant.after),
        "effects": effects,
        "effect_text": effect_text,
    }


def _outcome_words(effect: dict[str, Any], end: str) -> str:
    value = effect.get(f"{end}_label") or effect[end]
    return str(value).replace("_", " ") if value else "none"
