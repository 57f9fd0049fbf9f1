"""Cases on which two rule bases differ, each cut down to a minimal case file.

``hipkb compare --generated N`` draws N cases (:mod:`hipkb.testing.draws`),
and hands them here: each case runs under both bases; the cases that differ
are grouped by what differs (the most consequential kind of change, and the
hypotheses or rules it concerns), and one case of each group, the smallest,
is cut down (:func:`hipkb.verify.invariants.minimize`) to the fewest findings
on which the bases still differ in that way. No hypothesis here: the cases
come in as plain data.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from hipkb.knowledge.rules import KnowledgeBase
from hipkb.results.compare import KINDS, CaseDiff, Comparer
from hipkb.verify.invariants import UnderTest, minimize

#: At most this many groups of differing cases are cut down (the others are counted).
MAX_SHRUNK = 50
CHUNKSIZE = 16


@dataclass
class Difference:
    """A minimal case on which the two bases differ, and how many drawn cases came down to it."""

    case: dict[str, Any]
    diff: CaseDiff
    kind: str
    drawn: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "drawn": len(self.drawn), "first": self.drawn[0] if self.drawn else None,
                "case": self.case, "diff": self.diff.to_dict()}


@dataclass
class DifferenceReport:
    """What a search over generated cases found."""

    drawn: int = 0
    differing: int = 0
    errors: int = 0
    groups: int = 0
    not_shrunk: int = 0
    differences: list[Difference] = field(default_factory=list)
    by_kind: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))

    def to_dict(self) -> dict[str, Any]:
        return {"drawn": self.drawn, "differing": self.differing, "errors": self.errors, "groups": self.groups,
                "not_shrunk": self.not_shrunk, "by_kind": self.by_kind,
                "minimal": [d.to_dict() for d in self.differences]}


def signature(diff: CaseDiff) -> tuple[str, tuple[str, ...]]:
    """What a difference is about: its most consequential kind, and the hypotheses and rules that moved."""
    return diff.kinds[0], _about(diff)


def _about(diff: CaseDiff) -> tuple[str, ...]:
    return tuple(sorted({h["id"] for h in diff.hypotheses} | set(diff.fired_only_a) | set(diff.fired_only_b)))


def still_differs(comparer: Comparer, wanted: tuple[str, tuple[str, ...]], data: dict[str, Any]) -> bool:
    """Whether *data* still shows the change *wanted*: its kind, and one of the hypotheses or rules it concerns."""
    kind, about = wanted
    diff = comparer.data(data, light=kind not in ("exclusions", "questions"))
    if diff.error or kind not in diff.changes:
        return False
    return not about or bool(set(about) & set(_about(diff)))


def find(kb_a: KnowledgeBase, kb_b: KnowledgeBase, cases: Iterable[dict[str, Any]], *, tolerance: float = 0.0,
         questions: bool = False, jobs: int = 1, cluster: str | None = None,
         max_shrunk: int = MAX_SHRUNK) -> DifferenceReport:
    """Run *cases* (dicts with a ``case_id``) under both bases; group those that differ and cut each group down.

    The differing cases are grouped by :func:`signature`; the smallest case of
    each group (of the first *max_shrunk* groups, the most consequential
    kinds first) is cut down to a minimal case, and each minimal case is
    listed once, with the drawn cases of the groups that led there.
    """
    cases = list(cases)
    report = DifferenceReport(drawn=len(cases))
    groups: dict[tuple[str, tuple[str, ...]], list[tuple[int, dict[str, Any]]]] = {}
    settings = (tolerance, questions)
    diffs = _compare_all(kb_a, kb_b, cases, settings, jobs, cluster)
    for index, (data, diff) in enumerate(zip(cases, diffs, strict=True)):
        if diff.error:
            report.errors += 1
        if not diff.changes:
            continue
        report.differing += 1
        for kind in diff.changes:
            report.by_kind[kind] += 1
        groups.setdefault(signature(diff), []).append((index, data))
    report.groups = len(groups)
    ordered = sorted(groups.items(), key=lambda g: (KINDS.index(g[0][0]), -len(g[1]), g[0][1]))
    chosen = ordered[:max_shrunk]
    report.not_shrunk = sum(len(members) for _, members in ordered[max_shrunk:])
    tasks = [(wanted, min(members, key=lambda m: (_size(m[1]), m[0]))[1]) for wanted, members in chosen]
    shrunk = _shrink_all(kb_a, kb_b, tasks, settings, jobs, cluster)
    unique: dict[str, Difference] = {}
    for (wanted, members), (case, diff) in zip(chosen, shrunk, strict=True):
        if diff.error:
            continue
        found = unique.setdefault(json.dumps(case, sort_keys=True), Difference(case, diff, wanted[0]))
        found.drawn.extend(str(data.get("case_id", index)) for index, data in members)
    listed = sorted(unique.values(), key=lambda d: (KINDS.index(d.kind), -len(d.drawn),
                                                    json.dumps(d.case, sort_keys=True)))
    for number, difference in enumerate(listed, start=1):
        name = f"difference-{number}"
        difference.case = {"case_id": name, **difference.case}
        difference.diff.case_id = difference.diff.source = name
    report.differences = listed
    return report


def _size(data: dict[str, Any]) -> int:
    return len(json.dumps(data, sort_keys=True))


def _compare_all(kb_a: KnowledgeBase, kb_b: KnowledgeBase, cases: list[dict[str, Any]],
                 settings: tuple[float, bool], jobs: int, cluster: str | None) -> list[CaseDiff]:
    tasks = [("compare", chunk) for chunk in _chunks(cases, CHUNKSIZE)]
    out: list[CaseDiff] = []
    for part in _run(kb_a, kb_b, tasks, settings, jobs, cluster):
        out.extend(part)
    return out


def _shrink_all(kb_a: KnowledgeBase, kb_b: KnowledgeBase, tasks: list[tuple[Any, dict[str, Any]]],
                settings: tuple[float, bool], jobs: int, cluster: str | None) -> list[tuple[dict[str, Any], CaseDiff]]:
    out: list[tuple[dict[str, Any], CaseDiff]] = []
    for part in _run(kb_a, kb_b, [("shrink", chunk) for chunk in _chunks(tasks, 2)], settings, jobs, cluster):
        out.extend(part)
    return out


def _chunks(items: list[Any], size: int) -> list[list[Any]]:
    return [items[i:i + size] for i in range(0, len(items), size)]


def _run(kb_a: KnowledgeBase, kb_b: KnowledgeBase, tasks: list[tuple[str, list[Any]]],
         settings: tuple[float, bool], jobs: int, cluster: str | None) -> Iterable[list[Any]]:
    if cluster is None and jobs <= 1:
        _WORKER["comparer"] = Comparer(kb_a, kb_b, tolerance=settings[0], questions=settings[1])
        _WORKER["subject"] = UnderTest(kb_a)
        for task in tasks:
            yield work(task)
        return
    from hipkb.batch import jobs as batch_jobs

    job = batch_jobs.Job(start_worker, work, kbs=((kb_a.rules_dir, kb_a.facts_dir),  # type: ignore[arg-type]
                                                  (kb_b.rules_dir, kb_b.facts_dir)), args=settings)

    def lost(task: tuple[str, list[Any]], reason: str) -> list[Any]:
        what, items = task
        if what == "compare":
            return [CaseDiff(str(d.get("case_id")), "<generated>", error=f"not run: {reason}") for d in items]
        return [(data, CaseDiff(str(data.get("case_id")), "<generated>", error=f"not cut down: {reason}"))
                for _, data in items]

    yield from batch_jobs.run(job, tasks, jobs=jobs, cluster=cluster, lost=lost)


# -- in a worker process (hipkb.batch.jobs) ---------------------------------------

_WORKER: dict[str, Any] = {}


def start_worker(kbs: tuple[tuple[Any, Any], ...], tolerance: float, questions: bool) -> None:
    from hipkb.knowledge.store import load_kb

    (rules_a, facts_a), (rules_b, facts_b) = kbs
    kb_a = load_kb(rules_a, facts_a)
    _WORKER["comparer"] = Comparer(kb_a, load_kb(rules_b, facts_b), tolerance=tolerance, questions=questions)
    _WORKER["subject"] = UnderTest(kb_a)


def work(task: tuple[str, list[Any]]) -> list[Any]:
    """Compare a chunk of cases, or cut one differing case down to a minimal one."""
    what, items = task
    comparer: Comparer = _WORKER["comparer"]
    if what == "compare":
        return [comparer.data(data, str(data.get("case_id", "<generated>"))) for data in items]
    out = []
    for wanted, data in items:
        bare = {k: v for k, v in data.items() if k != "case_id"}
        minimal = minimize(_WORKER["subject"], bare, functools.partial(still_differs, comparer, wanted))
        out.append((minimal, comparer.data(minimal, "minimal")))
    return out


__all__ = ["Difference", "DifferenceReport", "find", "signature"]
