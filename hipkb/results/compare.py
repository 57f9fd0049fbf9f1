"""Compare two rule bases on a set of cases: every change in every case, and which rules made it.

For each case both knowledge bases reason about it, and every part of the
two results a clinician or a researcher reads is compared, each a *kind* of
change (:data:`KINDS`, in order of consequence):

- ``triage``, ``running``: the triage level, the running advice;
- ``red_flags``, ``referrals``: the ids raised;
- ``exclusions``: the status of each alarm hypothesis (suspected, not
  excluded, excluded), where the results carry the ``exclusions`` key;
- ``ranking``: the order of the ranked hypotheses;
- ``band``: a hypothesis's band (``likely``, ``possible``, ``unlikely``, or
  not ranked at all);
- ``certainty``: a hypothesis's certainty, when it moved by more than the
  *tolerance* (0: any move);
- ``fired``: rules that fired under one base and not the other;
- ``questions``: the next questions, in order (only when asked for: the
  next questions move with almost any change of weight).

The rules behind a difference are those that fired under one base and not the
other, and those that fired and are written differently in the two (same id,
changed conditions or conclusion). :func:`compare` runs here;
:mod:`hipkb.verify.compare_spread` spreads it over worker processes or a
cluster (through :mod:`hipkb.batch.jobs`), so that ``results`` never imports
``batch``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from hipkb.engine.reasoner import Reasoner
from hipkb.engine.record import Inference
from hipkb.errors import HipkbError
from hipkb.knowledge.rules import KnowledgeBase, RuleDef
from hipkb.load.case import validate
from hipkb.load.inputs import CaseSource
from hipkb.results.result import build_result
from hipkb.textsafe import terminal

#: Every kind of change, most consequential first.
KINDS = ("triage", "running", "red_flags", "referrals", "exclusions", "ranking", "band", "certainty", "fired",
         "questions")
#: Kinds whose values under A and B are lists of ids (shown as "only under A / only under B").
_SETS = ("red_flags", "referrals")

@dataclass
class CaseDiff:
    """How one case came out under A and under B: every change, by kind, and the rules behind it."""

    case_id: str
    source: str
    #: kind -> {"a": value under A, "b": value under B}, for every kind that changed.
    changes: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: Each hypothesis whose band changed or whose certainty moved past the tolerance:
    #: {"id", "certainty": [a, b], "band": [a, b], "rank": [a, b]} (band and rank None where not ranked).
    hypotheses: list[dict[str, Any]] = field(default_factory=list)
    fired_only_a: list[str] = field(default_factory=list)
    fired_only_b: list[str] = field(default_factory=list)
    changed_rules: list[str] = field(default_factory=list)
    error: str = ""

    @property
    def differs(self) -> bool:
        return bool(self.changes) or bool(self.error)

    @property
    def kinds(self) -> list[str]:
        """The kinds of change, most consequential first."""
        return [kind for kind in KINDS if kind in self.changes]

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"case_id": self.case_id, "source": self.source, "differs": self.differs,
                                "kinds": self.kinds, "changes": self.changes, "hypotheses": self.hypotheses,
                                "fired_only_a": self.fired_only_a, "fired_only_b": self.fired_only_b,
                                "changed_rules": self.changed_rules}
        if self.error:
            data["error"] = self.error
        return data


def outline(result: dict[str, Any], rule_ids: Iterable[str] | None = None) -> dict[str, Any]:
    """The parts of a ``hipkb-result/1`` result a comparison reads, by kind.

    *rule_ids*: the knowledge base's rules; firings of anything else (the
    shell's own steps) are left out.
    """
    known = set(rule_ids) if rule_ids is not None else None
    hypotheses = {h["id"]: (h["certainty"], h["band"], rank)
                  for rank, h in enumerate(result.get("hypotheses", []), start=1)}
    return {
        "triage": result["triage"]["level"],
        "running": result["running"]["advice"],
        "red_flags": sorted(f["id"] for f in result.get("red_flags", [])),
        "referrals": sorted(r["id"] for r in result.get("referrals", [])),
        "exclusions": {e["id"]: e.get("status") for e in result.get("exclusions", [])},
        "ranking": [h["id"] for h in result.get("hypotheses", [])],
        "hypotheses": hypotheses,
        "fired": {f["rule"] for f in result.get("fired", []) if known is None or f["rule"] in known},
        "questions": [q["fact"] for q in result.get("next_questions", [])],
    }


def light_outline(kb: KnowledgeBase, inference: Inference) -> dict[str, Any]:
    """:func:`outline` read off the inference, without building the result: no next questions.

    For searches that run a case many times and look at what the engine
    concluded (the next questions cost more than the rest of the result).
    """
    ranked = inference.ranked()
    assert inference.triage is not None and inference.running is not None
    return {
        "triage": inference.triage.value,
        "running": inference.running.value,
        "red_flags": sorted(inference.red_flags),
        "referrals": sorted(inference.referrals),
        "exclusions": {h: c.value for h, c in inference.exclusions.items()},
        "ranking": [s.hypothesis for s in ranked],
        "hypotheses": {s.hypothesis: (s.certainty, s.band, rank) for rank, s in enumerate(ranked, start=1)},
        "fired": {f.rule for f in inference.firings if f.rule in kb.by_id},
        "questions": [],
    }


def diff_outlines(case_id: str, source: str, a: dict[str, Any], b: dict[str, Any], *, tolerance: float = 0.0,
                  changed: Iterable[str] = (), questions: bool = False) -> CaseDiff:
    """Every change between two outlines (:func:`outline`); *changed*: rules written differently in A and B.

    *questions*: compare the next questions too.
    """
    diff = CaseDiff(case_id, source)
    for kind in ("triage", "running", "red_flags", "referrals", "ranking", "questions"):
        if kind == "questions" and not questions:
            continue
        if a[kind] != b[kind]:
            diff.changes[kind] = {"a": a[kind], "b": b[kind]}
    ea, eb = a["exclusions"], b["exclusions"]
    moved = sorted(h for h in set(ea) | set(eb) if ea.get(h) != eb.get(h))
    if moved:
        diff.changes["exclusions"] = {"a": {h: ea.get(h) for h in moved}, "b": {h: eb.get(h) for h in moved}}
    ha, hb = a["hypotheses"], b["hypotheses"]
    bands: dict[str, dict[str, Any]] = {"a": {}, "b": {}}
    certainties: dict[str, dict[str, Any]] = {"a": {}, "b": {}}
    for hid in sorted(set(ha) | set(hb)):
        ca, band_a, rank_a = ha.get(hid, (0.0, None, None))
        cb, band_b, rank_b = hb.get(hid, (0.0, None, None))
        band_moved, certainty_moved = band_a != band_b, abs(cb - ca) > tolerance
        if band_moved:
            bands["a"][hid], bands["b"][hid] = band_a, band_b
        if certainty_moved:
            certainties["a"][hid], certainties["b"][hid] = ca, cb
        if band_moved or certainty_moved:
            diff.hypotheses.append({"id": hid, "certainty": [ca, cb], "band": [band_a, band_b],
                                    "rank": [rank_a, rank_b]})
    diff.hypotheses.sort(key=lambda h: (-abs(h["certainty"][1] - h["certainty"][0]), h["id"]))
    if bands["a"]:
        diff.changes["band"] = bands
    if certainties["a"]:
        diff.changes["certainty"] = certainties
    fa, fb = a["fired"], b["fired"]
    diff.fired_only_a, diff.fired_only_b = sorted(fa - fb), sorted(fb - fa)
    if diff.fired_only_a or diff.fired_only_b:
        diff.changes["fired"] = {"a": diff.fired_only_a, "b": diff.fired_only_b}
    diff.changed_rules = sorted(set(changed) & (fa | fb))
    diff.changes = {kind: diff.changes[kind] for kind in KINDS if kind in diff.changes}
    return diff


def _definition(rule: RuleDef) -> tuple:
    """What a rule says, leaving out where it is written."""
    return (rule.conditions, rule.conclusion)


def rule_changes(kb_a: KnowledgeBase, kb_b: KnowledgeBase) -> dict[str, list[str]]:
    """Rules only in A, only in B, and in both but written differently."""
    ids_a, ids_b = set(kb_a.by_id), set(kb_b.by_id)
    return {
        "only_a": sorted(ids_a - ids_b),
        "only_b": sorted(ids_b - ids_a),
        "changed": sorted(r for r in ids_a & ids_b if _definition(kb_a.by_id[r]) != _definition(kb_b.by_id[r])),
    }


class Comparer:
    """Two knowledge bases, their engines built once, compared case by case."""

    def __init__(self, kb_a: KnowledgeBase, kb_b: KnowledgeBase, *, tolerance: float = 0.0,
                 questions: bool = False, reasoners: tuple[Reasoner, Reasoner] | None = None) -> None:
        self.kbs = (kb_a, kb_b)
        self.reasoners = reasoners or (Reasoner(kb_a), Reasoner(kb_b))
        self.tolerance = tolerance
        self.questions = questions
        self.changed = frozenset(rule_changes(kb_a, kb_b)["changed"])

    def results(self, data: dict[str, Any], source: str = "<generated>") -> tuple[dict[str, Any], dict[str, Any]]:
        """The results of one case given as data, under A and under B (a HipkbError if it is not valid)."""
        out = []
        for kb, reasoner in zip(self.kbs, self.reasoners, strict=True):
            case = validate(data, kb.vocabulary, source, hypotheses=kb.hypotheses)
            out.append(build_result(kb, reasoner.infer(case)))
        return out[0], out[1]

    def diff(self, case_id: str, source: str, ra: dict[str, Any], rb: dict[str, Any]) -> CaseDiff:
        """The comparison of two results of one case."""
        (kb_a, kb_b) = self.kbs
        return diff_outlines(case_id, source, outline(ra, kb_a.by_id), outline(rb, kb_b.by_id),
                             tolerance=self.tolerance, changed=self.changed, questions=self.questions)

    def case(self, source: CaseSource) -> CaseDiff:
        """Run one case source under both knowledge bases and say what differs."""
        results = []
        case_id = source.default_id
        for kb, reasoner, name in zip(self.kbs, self.reasoners, "AB", strict=True):
            try:
                case = source.load(kb)
                case_id = case.case_id
                results.append(build_result(kb, reasoner.infer(case)))
            except HipkbError as error:
                return CaseDiff(case_id, source.name, error=f"under {name}: {error}")
        return self.diff(case_id, source.name, results[0], results[1])

    def data(self, data: dict[str, Any], case_id: str = "<generated>", *, light: bool = False) -> CaseDiff:
        """Compare one case given as data; a case that is not valid under either base is an error diff.

        *light*: compare what the engines concluded without building the
        results (:func:`light_outline`): no next questions.
        """
        try:
            if not light:
                ra, rb = self.results(data, case_id)
                return self.diff(case_id, case_id, ra, rb)
            outlines = []
            for kb, reasoner in zip(self.kbs, self.reasoners, strict=True):
                case = validate(data, kb.vocabulary, case_id, hypotheses=kb.hypotheses)
                outlines.append(light_outline(kb, reasoner.infer(case)))
        except HipkbError as error:
            return CaseDiff(case_id, case_id, error=str(error))
        return diff_outlines(case_id, case_id, outlines[0], outlines[1], tolerance=self.tolerance,
                             changed=self.changed)


def compare_case(a: tuple[KnowledgeBase, Reasoner], b: tuple[KnowledgeBase, Reasoner], source: CaseSource, *,
                 tolerance: float = 0.0, questions: bool = False) -> CaseDiff:
    """Run one case under both knowledge bases and say what differs."""
    return Comparer(a[0], b[0], tolerance=tolerance, questions=questions, reasoners=(a[1], b[1])).case(source)


def compare(kb_a: KnowledgeBase, kb_b: KnowledgeBase, sources: Iterable[CaseSource], *, tolerance: float = 0.0,
            questions: bool = False) -> list[CaseDiff]:
    """Every case's comparison, in the order given; see :attr:`CaseDiff.differs`.

    *tolerance*: certainties that move by this much or less are no change.
    *questions*: compare the next questions too. Spread over worker processes
    or a Dask cluster, the same comparisons are
    :func:`hipkb.verify.compare_spread.compare`'s.
    """
    return list(iter_compare(kb_a, kb_b, sources, tolerance=tolerance, questions=questions))


def iter_compare(kb_a: KnowledgeBase, kb_b: KnowledgeBase, sources: Iterable[CaseSource], *,
                 tolerance: float = 0.0, questions: bool = False) -> Iterator[CaseDiff]:
    """:func:`compare`, one case at a time."""
    comparer = Comparer(kb_a, kb_b, tolerance=tolerance, questions=questions)
    for source in sources:
        yield comparer.case(source)


# -- summaries and text -------------------------------------------------------------

def summary(diffs: Iterable[CaseDiff]) -> dict[str, Any]:
    """How many cases, how many differ, how many errors, and how many cases show each kind of change."""
    counts = dict.fromkeys(KINDS, 0)
    cases = differing = errors = 0
    for d in diffs:
        cases += 1
        differing += d.differs
        errors += bool(d.error)
        for kind in d.changes:
            counts[kind] += 1
    return {"cases": cases, "differing": differing, "errors": errors, "by_kind": counts}


def _ids(values: Any) -> str:
    return ", ".join(values) if values else "(none)"


def change_lines(d: CaseDiff) -> list[str]:
    """One line per kind of change of one case (what A said, what B says)."""
    lines = []
    for kind, change in d.changes.items():
        a, b = change["a"], change["b"]
        if kind in _SETS:
            only_a = [x for x in a if x not in b]
            only_b = [x for x in b if x not in a]
            parts = ([f"only under A: {_ids(only_a)}"] if only_a else []) + \
                ([f"only under B: {_ids(only_b)}"] if only_b else [])
            lines.append(f"{kind.replace('_', ' ')}: {'; '.join(parts)}")
        elif kind in ("ranking", "questions"):
            lines.append(f"{kind}: {_ids(a)}  ->  {_ids(b)}")
        elif kind in ("exclusions", "band"):
            none = "not listed" if kind == "exclusions" else "not ranked"
            moved = ", ".join(f"{h} {a[h] or none} -> {b[h] or none}" for h in a)
            lines.append(f"{kind}: {moved}")
        elif kind == "certainty":
            moved = ", ".join(f"{h['id']} {h['certainty'][0]:g} -> {h['certainty'][1]:g}"
                              for h in d.hypotheses if h["id"] in a)
            lines.append(f"certainty: {moved}")
        elif kind == "fired":
            if a:
                lines.append(f"fired only under A: {_ids(a)}")
            if b:
                lines.append(f"fired only under B: {_ids(b)}")
        else:
            lines.append(f"{kind}: {a}  ->  {b}")
    if d.changed_rules:
        lines.append(f"fired, but written differently: {', '.join(d.changed_rules)}")
    return lines


def summary_line(counts: dict[str, Any]) -> str:
    """``3 of 108 case(s) differ: band 2, certainty 3, fired 1``."""
    kinds = ", ".join(f"{kind.replace('_', ' ')} {n}" for kind, n in counts["by_kind"].items() if n)
    errors = f", {counts['errors']} error(s)" if counts["errors"] else ""
    return f"{counts['differing']} of {counts['cases']} case(s) differ" + (f": {kinds}" if kinds else "") + errors


def header(changes: dict[str, list[str]], labels: tuple[str, str]) -> str:
    """Which rule bases are compared, and which rules differ between them."""
    a, b = labels
    lines = [f"A = {terminal(a)}", f"B = {terminal(b)}"]
    for key, title in (("only_a", "rules only in A"), ("only_b", "rules only in B"), ("changed", "rules changed")):
        if changes[key]:
            lines.append(f"{title}: {', '.join(changes[key])}")
    return "\n".join(lines) + "\n"


def to_text(diffs: list[CaseDiff], changes: dict[str, list[str]], labels: tuple[str, str]) -> str:
    """People's version: one block per differing case, then a count by kind of change."""
    lines = [header(changes, labels).rstrip("\n")]
    for d in diffs:
        if not d.differs:
            continue
        lines.append("")
        lines.append(f"{terminal(d.case_id)} ({terminal(d.source)})")  # from outside: one safe line
        if d.error:
            lines.append(f"  error {terminal(d.error)}")
            continue
        lines.extend(f"  {line}" for line in change_lines(d))
    lines.append("")
    lines.append(summary_line(summary(diffs)))
    return "\n".join(lines) + "\n"


def to_data(diffs: list[CaseDiff], changes: dict[str, list[str]], labels: tuple[str, str], *,
            show_all: bool = False, tolerance: float = 0.0, questions: bool = False) -> dict[str, Any]:
    """The ``hipkb-compare/1`` object: rule changes, counts by kind, and every differing case (or every case)."""
    counts = summary(diffs)
    return {
        "format": "hipkb-compare/1",
        "a": labels[0], "b": labels[1],
        "tolerance": tolerance, "questions": questions,
        "rules": changes,
        "cases": counts["cases"], "differing": counts["differing"], "errors": counts["errors"],
        "summary": counts["by_kind"],
        "diffs": [d.to_dict() for d in diffs if show_all or d.differs],
    }


__all__ = ["KINDS", "CaseDiff", "Comparer", "change_lines", "compare", "compare_case", "diff_outlines", "header",
           "iter_compare", "light_outline", "outline", "rule_changes", "summary", "summary_line", "to_data", "to_text"]
