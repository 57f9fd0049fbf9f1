"""Which answers hang on which weights: each rule's weight and each band threshold moved a step up and down.

For every rule that weighs evidence (``supports``, ``against``), two variants
of the knowledge base: its weight a *step* higher and a step lower (kept
within [0.01, 1]); and for each band threshold (``likely`` at 0.6,
``possible`` at 0.3) the same. Each variant reasons again about every case
it can change (for a weight, the cases where its rule fired; for a
threshold, all of them), and a case counts as changed by a variant when its
top hypothesis, its triage or its running advice differs from the base's.

A rule is *fragile* when small moves of its weight change many answers: the
report ranks rules (and thresholds apart) by the answers their two moves
change, then by the cases, and cases by the variants that change them.
:func:`run` works here, or on worker processes or a Dask cluster through
:mod:`hipkb.batch.jobs`; the cases come in as case sources (files, or data
drawn by :mod:`hipkb.testing.draws` for ``--generated``).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from hipkb.engine import certainty as cf
from hipkb.engine.reasoner import Reasoner
from hipkb.engine.record import Inference
from hipkb.errors import HipkbError
from hipkb.knowledge.case import Case
from hipkb.knowledge.kinds import KINDS as CONCLUSION_KINDS
from hipkb.knowledge.kinds import Kind
from hipkb.knowledge.rules import KnowledgeBase
from hipkb.load.inputs import CaseSource

ASPECTS = ("top", "triage", "running")
DEFAULT_STEP = 0.05
MIN_WEIGHT, MAX_WEIGHT = 0.01, 1.0
#: Kinds of conclusion whose weight is evidence (``ask`` rules weigh questions, not answers).
EVIDENCE = (Kind.SUPPORTS, Kind.AGAINST)
CHUNKSIZE = 8


@dataclass(frozen=True)
class Variant:
    """One move: a rule's weight (``target`` a rule id) or a band threshold (``likely``, ``possible``)."""

    what: str  # "weight" or "threshold"
    target: str
    old: float
    new: float

    @property
    def direction(self) -> str:
        return "up" if self.new > self.old else "down"

    def label(self) -> str:
        return f"{self.target} {self.old:g} -> {self.new:g}"


def _clamp(value: float) -> float:
    return round(min(MAX_WEIGHT, max(MIN_WEIGHT, value)), 6)


def variants(kb: KnowledgeBase, step: float = DEFAULT_STEP) -> list[Variant]:
    """Every variant of *kb* a *step* away: each evidence weight up and down, then each band threshold."""
    out = []
    for rule in kb.rules:
        if rule.conclusion.kind in EVIDENCE and CONCLUSION_KINDS[rule.conclusion.kind].weighted:
            weight = rule.conclusion.weight
            for new in (_clamp(weight + step), _clamp(weight - step)):
                if new != weight:
                    out.append(Variant("weight", rule.id, weight, new))
    for name, old in (("likely", cf.LIKELY), ("possible", cf.POSSIBLE)):
        for new in (round(old + step, 6), round(old - step, 6)):
            likely, possible = (new, cf.POSSIBLE) if name == "likely" else (cf.LIKELY, new)
            if 0 < possible < likely <= 1:
                out.append(Variant("threshold", name, old, new))
    return out


def apply(kb: KnowledgeBase, variant: Variant) -> tuple[KnowledgeBase, tuple[float, float] | None]:
    """The knowledge base and band thresholds of *variant* (thresholds None: the usual ones)."""
    if variant.what == "threshold":
        likely, possible = cf.LIKELY, cf.POSSIBLE
        return kb, ((variant.new, possible) if variant.target == "likely" else (likely, variant.new))
    rules = tuple(dataclasses.replace(r, conclusion=dataclasses.replace(r.conclusion, weight=variant.new))
                  if r.id == variant.target else r for r in kb.rules)
    return dataclasses.replace(kb, rules=rules), None


def answers(inference: Inference) -> tuple[str | None, str, str]:
    """What a sensitivity analysis watches: the top hypothesis, the triage level, the running advice."""
    ranked = inference.ranked()
    assert inference.triage is not None and inference.running is not None
    return (ranked[0].hypothesis if ranked else None, inference.triage.value, inference.running.value)


# -- the work of one process --------------------------------------------------------

@dataclass
class Baseline:
    """A knowledge base and its cases, with the base answers and which rules fired in each case."""

    kb: KnowledgeBase
    names: list[str]
    cases: list[Case]
    base: list[tuple[str | None, str, str]]
    fired: list[set[str]]
    errors: list[str] = field(default_factory=list)

    @classmethod
    def build(cls, kb: KnowledgeBase, sources: Iterable[CaseSource]) -> Baseline:
        reasoner = Reasoner(kb)
        subject = cls(kb, [], [], [], [])
        for source in sources:
            try:
                case = source.load(kb)
                inference = reasoner.infer(case)
            except HipkbError as error:
                subject.errors.append(str(error))
                continue
            subject.names.append(case.case_id)
            subject.cases.append(case)
            subject.base.append(answers(inference))
            subject.fired.append({f.rule for f in inference.firings})
        return subject

    def changes(self, variant: Variant) -> list[tuple[int, tuple[str, ...]]]:
        """The cases *variant* changes, each with the aspects (top, triage, running) that change."""
        kb, bands = apply(self.kb, variant)
        reasoner = Reasoner(kb, bands=bands)
        out = []
        for index, case in enumerate(self.cases):
            if variant.what == "weight" and variant.target not in self.fired[index]:
                continue  # a weight counts only where its rule fires
            try:
                now = answers(reasoner.infer(case))
            except HipkbError:
                now = (None, "", "")
            moved = tuple(aspect for aspect, a, b in zip(ASPECTS, self.base[index], now, strict=True) if a != b)
            if moved:
                out.append((index, moved))
        return out


_WORKER: dict[str, Baseline] = {}


def start_worker(kbs: tuple[tuple[Any, Any], ...], sources: list[CaseSource]) -> None:
    """Load the knowledge base and run the cases once, in each worker process."""
    from hipkb.knowledge.store import load_kb

    ((rules, facts),) = kbs
    _WORKER["subject"] = Baseline.build(load_kb(rules, facts), sources)


def work(chunk: list[Variant]) -> list[list[tuple[int, tuple[str, ...]]]]:
    subject = _WORKER["subject"]
    return [subject.changes(variant) for variant in chunk]


# -- the run and its report ------------------------------------------------------------

@dataclass
class Report:
    """What moved: for each variant the cases it changed, and the rankings built from them."""

    kb: dict[str, Any]
    step: float
    names: list[str]
    variants: list[Variant]
    changes: list[list[tuple[int, tuple[str, ...]]]]
    errors: list[str] = field(default_factory=list)
    files: dict[str, str] = field(default_factory=dict)

    def _rows(self, what: str) -> list[dict[str, Any]]:
        rows: dict[str, dict[str, Any]] = {}
        for variant, changed in zip(self.variants, self.changes, strict=True):
            if variant.what != what:
                continue
            row = rows.setdefault(variant.target, {"id": variant.target, "value": variant.old, "changes": 0,
                                                   "cases": set(), "file": self.files.get(variant.target, "")})
            move = {"to": variant.new, "cases": len(changed),
                    **{a: sum(1 for _, aspects in changed if a in aspects) for a in ASPECTS},
                    "changed": [{"case": self.names[i], "aspects": list(aspects)} for i, aspects in changed]}
            row[variant.direction] = move
            row["changes"] += sum(len(aspects) for _, aspects in changed)
            row["cases"] |= {i for i, _ in changed}
        ranked = sorted(rows.values(), key=lambda r: (-r["changes"], -len(r["cases"]), r["id"]))
        for row in ranked:
            row["cases"] = len(row["cases"])
        return ranked

    @property
    def rules(self) -> list[dict[str, Any]]:
        """Every weighted rule, most fragile first: answers changed, then cases changed."""
        return self._rows("weight")

    @property
    def thresholds(self) -> list[dict[str, Any]]:
        return self._rows("threshold")

    @property
    def cases(self) -> list[dict[str, Any]]:
        """Every case some variant changes, most fragile first, with the variants that change it."""
        by_case: dict[int, list[tuple[Variant, tuple[str, ...]]]] = {}
        for variant, changed in zip(self.variants, self.changes, strict=True):
            for index, aspects in changed:
                by_case.setdefault(index, []).append((variant, aspects))
        rows = [{"case": self.names[i], "variants": len(moves), "changes": sum(len(a) for _, a in moves),
                 "by": [{"variant": v.label(), "aspects": list(a)} for v, a in moves]}
                for i, moves in by_case.items()]
        return sorted(rows, key=lambda r: (-r["changes"], -r["variants"], r["case"]))

    def matrix(self, top_rules: int = 30, top_cases: int = 40) -> tuple[list[str], list[str], list[list[int]]]:
        """The heat map: the most fragile rules (then the thresholds) by the most fragile cases, answers changed."""
        rows = [r["id"] for r in self.rules if r["changes"]][:top_rules] + \
            [f"band {t['id']}" for t in self.thresholds if t["changes"]]
        columns = [c["case"] for c in self.cases][:top_cases]
        at = {name: j for j, name in enumerate(columns)}
        where = {name: i for i, name in enumerate(rows)}
        grid = [[0] * len(columns) for _ in rows]
        for variant, changed in zip(self.variants, self.changes, strict=True):
            row = where.get(variant.target if variant.what == "weight" else f"band {variant.target}")
            if row is None:
                continue
            for index, aspects in changed:
                column = at.get(self.names[index])
                if column is not None:
                    grid[row][column] += len(aspects)
        return rows, columns, grid

    def to_dict(self, top: int | None = None) -> dict[str, Any]:
        rules = self.rules
        return {"format": "hipkb-sensitivity/1", "kb": self.kb, "step": self.step, "cases": len(self.names),
                "errors": self.errors, "variants": len(self.variants),
                "fragile_rules": sum(1 for r in rules if r["changes"]),
                "rules": rules[:top] if top else rules, "thresholds": self.thresholds, "fragile_cases": self.cases}


def run(kb: KnowledgeBase, sources: Sequence[CaseSource], *, step: float = DEFAULT_STEP, jobs: int = 1,
        cluster: str | None = None) -> Report:
    """Move every weight and threshold of *kb* a *step* each way and see which cases' answers change."""
    if not 0 < step < 1:
        raise HipkbError("--step", "", f"found {step:g}; a step is above 0 and below 1")
    all_variants = variants(kb, step)
    sources = list(sources)
    info = {"name": kb.name, "version": kb.version, "rules": len(kb.rules),
            "rules_dir": str(kb.rules_dir) if kb.rules_dir else None}
    chunks = [all_variants[i:i + CHUNKSIZE] for i in range(0, len(all_variants), CHUNKSIZE)]
    if cluster is None and jobs <= 1:
        subject = Baseline.build(kb, sources)
        changes = [subject.changes(v) for v in all_variants]
    else:
        from hipkb.batch import jobs as batch_jobs

        if kb.rules_dir is None or kb.facts_dir is None:
            raise HipkbError("sensitivity", "", "a knowledge base not loaded from directories cannot be sent to "
                             "workers")
        if cluster is not None:
            from hipkb.batch.cluster import portable

            sources = [portable(s) for s in sources]
        subject = Baseline.build(kb, sources)  # the names and errors; the workers run the variants
        job = batch_jobs.Job(start_worker, work, kbs=((kb.rules_dir, kb.facts_dir),), args=(sources,))
        lost_cases: list[str] = []

        def lost(chunk: list[Variant], reason: str) -> list[list[tuple[int, tuple[str, ...]]]]:
            lost_cases.append(f"{len(chunk)} variant(s) not run: {reason}")
            return [[] for _ in chunk]

        changes = [c for part in batch_jobs.run(job, chunks, jobs=jobs, cluster=cluster, lost=lost) for c in part]
        subject.errors += lost_cases
    return Report(info, step, subject.names, all_variants, changes, subject.errors,
                  files={r.id: r.file for r in kb.rules})


def data_sources(cases: Iterable[dict[str, Any]]) -> list[CaseSource]:
    """Case dicts (drawn ones) as case sources, named by their ``case_id``."""
    return [CaseSource(str(c.get("case_id", f"case-{i}")), text=json.dumps(c), kind="json",
                       default_id=str(c.get("case_id", f"case-{i}"))) for i, c in enumerate(cases)]


__all__ = ["ASPECTS", "DEFAULT_STEP", "Baseline", "Report", "Variant", "apply", "data_sources", "run", "variants"]
