"""How a rule base does on labelled cases: accuracy, safety, over-triage, per hypothesis, and its bands.

The question every paper about a clinical rule base answers: run each case
of a labelled set (:mod:`hipkb.verify.expectations`), score it as the
reference scorer does, and measure:

- the tallies of the expectations: top-1 (``top``), top-3 (``in_top3``),
  ``includes``, ``excludes``, ``safety`` (every case) and ``specific`` (no
  over-triage, where a case states ``triage_at_most``);
- per hypothesis, where a case's truth is a hypothesis id: sensitivity (of
  the cases whose truth it is, how many rank it first) and positive
  predictive value (of the cases that rank it first, how many it is the
  truth of), and the confusion table of truth against first-ranked;
- calibration of the certainty bands: of the hypotheses ranked ``likely``,
  ``possible`` and ``unlikely``, how many are the truth; and in which band
  the truth itself lies.

The truth of a case is the first id of its ``top`` (or, lacking one, of its
``in_top3``); a first-ranked hypothesis among its other ``top`` ids counts as
the truth (a case that accepts either of two answers gets either). Every
figure comes with a 95 % interval from a bootstrap over the cases (percentile
method, seeded, so the same run gives the same intervals).
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hipkb.engine.reasoner import Reasoner
from hipkb.errors import HipkbError
from hipkb.knowledge.rules import KnowledgeBase
from hipkb.knowledge.scales import BANDS
from hipkb.load.inputs import CaseSource
from hipkb.results.result import build_result
from hipkb.verify.expectations import BONE_STRESS, TALLIES, from_case, score

#: What each tally is called in reports.
TALLY_LABELS = {"top": "top-1", "in_top3": "top-3", "includes": "includes", "excludes": "excludes",
                "safety": "safety", "specific": "specific (no over-triage)"}
NOT_RANKED = "not ranked"
NONE = "(none)"
DEFAULT_RESAMPLES = 1000


@dataclass(frozen=True)
class Metric:
    """``k`` of ``n``, their ratio, and a bootstrap 95 % interval (None where ``n`` is 0)."""

    k: int
    n: int
    low: float | None = None
    high: float | None = None

    @property
    def value(self) -> float | None:
        return self.k / self.n if self.n else None

    def to_dict(self) -> dict[str, Any]:
        return {"k": self.k, "n": self.n, "value": _round(self.value), "ci95": [_round(self.low), _round(self.high)]}


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 4)


@dataclass
class Scored:
    """One labelled case: what was expected, what came out, and what failed."""

    name: str
    source: str
    expectation: dict[str, Any]
    case_id: str = ""
    failures: list[str] = field(default_factory=list)
    tallies: dict[str, bool] = field(default_factory=dict)
    ranked: list[tuple[str, float, str]] = field(default_factory=list)
    triage: str = ""
    running: str = ""
    error: str = ""

    @property
    def accepted(self) -> list[str]:
        """The hypothesis ids the expectations accept as the truth, first the truth itself."""
        return list(self.expectation.get("top") or self.expectation.get("in_top3") or [])

    @property
    def truth(self) -> str | None:
        accepted = self.accepted
        return accepted[0] if accepted else None

    @property
    def first(self) -> str | None:
        return self.ranked[0][0] if self.ranked else None

    @property
    def predicted(self) -> str:
        """The first-ranked hypothesis, read as the truth when the expectations accept it."""
        first = self.first
        if first is None:
            return NONE
        return self.truth if first in self.expectation.get("top", ()) and self.truth else first

    def line(self) -> str:
        """One line: what failed, and what came out."""
        top3 = ", ".join(f"{hid} {certainty:g}" for hid, certainty, _ in self.ranked[:3]) or "nothing ranked"
        if self.error:
            return f"{self.name}: error: {self.error}"
        return f"{self.name}: {'; '.join(self.failures)} | top 3: {top3}; triage {self.triage}; running {self.running}"

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"name": self.name, "case_id": self.case_id, "source": self.source,
                                "expect": self.expectation, "ok": not self.failures and not self.error,
                                "failures": self.failures, "tallies": self.tallies,
                                "ranked": [{"id": h, "certainty": c, "band": b} for h, c, b in self.ranked],
                                "triage": self.triage, "running": self.running, "truth": self.truth,
                                "predicted": self.predicted if self.truth else None}
        if self.error:
            data["error"] = self.error
        return data


@dataclass
class Evaluation:
    """The metrics of a labelled case set."""

    kb: dict[str, Any]
    cases: list[Scored]
    tallies: dict[str, Metric]
    hypotheses: dict[str, dict[str, Metric]]
    confusion: dict[str, dict[str, int]]
    calibration: dict[str, Metric]
    truth_band: dict[str, int]
    seed: int
    resamples: int
    unlabelled: list[str] = field(default_factory=list)

    @property
    def errors(self) -> list[Scored]:
        return [c for c in self.cases if c.error]

    @property
    def failed(self) -> list[Scored]:
        return [c for c in self.cases if c.failures or c.error]

    @property
    def ok(self) -> bool:
        return not self.failed

    def summary_line(self, name: str) -> str:
        """The reference scorer's summary line: every tally as k/n, by name, then the errors."""
        parts = [f"{key} {m.k}/{m.n}" for key, m in sorted(self.tallies.items()) if m.n]
        return f"{name}: {', '.join([*parts, f'errors {len(self.errors)}'])}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": "hipkb-evaluation/1",
            "kb": self.kb,
            "cases": len(self.cases), "errors": len(self.errors), "failed": len(self.failed),
            "unlabelled": self.unlabelled,
            "bootstrap": {"resamples": self.resamples, "seed": self.seed, "interval": "percentile 95%"},
            "tallies": {key: m.to_dict() for key, m in self.tallies.items()},
            "over_triage": (lambda m: {"k": m.n - m.k, "n": m.n})(self.tallies["specific"]),
            "hypotheses": {h: {k: m.to_dict() for k, m in ms.items()} for h, ms in self.hypotheses.items()},
            "confusion": self.confusion,
            "calibration": {band: m.to_dict() for band, m in self.calibration.items()},
            "truth_band": self.truth_band,
            "results": [c.to_dict() for c in self.cases],
        }


# -- running the cases ------------------------------------------------------------

def labelled(sources: Iterable[CaseSource], expectations: Mapping[str, dict[str, Any]] | None
             ) -> list[tuple[str, CaseSource | None, dict[str, Any] | None]]:
    """Pair each expectation with its case file, by the file's stem: ``(name, source, expectation)`` in name order.

    An expectation without a case file has source None; a case file without
    an expectation has expectation None (its own ``expect`` block may serve).
    """
    by_stem: dict[str, CaseSource] = {}
    for source in sources:
        stem = Path(source.name).stem
        if stem in by_stem:
            raise HipkbError(source.name, "", f"two case files are called {stem} (also {by_stem[stem].name}); "
                             "expectations are matched to case files by name")
        by_stem[stem] = source
    pairs: list[tuple[str, CaseSource | None, dict[str, Any] | None]] = []
    expectations = dict(expectations or {})
    for name in sorted(set(by_stem) | set(expectations)):
        pairs.append((name, by_stem.get(name), expectations.get(name)))
    return pairs


def evaluate(kb: KnowledgeBase, sources: Iterable[CaseSource],
             expectations: Mapping[str, dict[str, Any]] | None = None, *, seed: int = 0,
             resamples: int = DEFAULT_RESAMPLES, reasoner: Reasoner | None = None,
             bone_stress: tuple[str, ...] = BONE_STRESS) -> Evaluation:
    """Run every labelled case and measure the rule base on them.

    *expectations* maps case file stems to expectations
    (:func:`hipkb.verify.expectations.load_expectations`); a case file it does
    not name is scored on its own ``expect`` block, or left out as
    unlabelled. An expectation whose case file is missing, or a case that does
    not load, is an error: counted, and in no tally (as the reference scorer does).
    """
    reasoner = reasoner or Reasoner(kb)
    pairs = labelled(sources, expectations)
    scored: list[Scored] = []
    unlabelled: list[str] = []
    for name, source, expectation in pairs:
        if source is None:
            scored.append(Scored(name, "", expectation or {}, error="no case file of this name"))
            continue
        try:
            case = source.load(kb)
        except HipkbError as error:
            scored.append(Scored(name, source.name, expectation or {}, error=str(error)))
            continue
        if expectation is None:
            if not case.expect:
                unlabelled.append(source.name)
                continue
            expectation = from_case(case.expect)
        item = Scored(name, source.name, expectation, case_id=case.case_id)
        try:
            result = build_result(kb, reasoner.infer(case))
        except HipkbError as error:
            item.error = str(error)
            scored.append(item)
            continue
        item.failures, item.tallies = score(result, expectation, bone_stress=bone_stress)
        item.ranked = [(h["id"], h["certainty"], h["band"]) for h in result["hypotheses"]]
        item.triage, item.running = result["triage"]["level"], result["running"]["advice"]
        scored.append(item)
    return measure(scored, kb_info(kb), seed=seed, resamples=resamples, unlabelled=unlabelled)


def kb_info(kb: KnowledgeBase) -> dict[str, Any]:
    return {"name": kb.name, "version": kb.version, "rules": len(kb.rules),
            "rules_dir": str(kb.rules_dir) if kb.rules_dir else None}


# -- the metrics ------------------------------------------------------------------

def measure(cases: list[Scored], kb: dict[str, Any], *, seed: int = 0, resamples: int = DEFAULT_RESAMPLES,
            unlabelled: list[str] | None = None) -> Evaluation:
    """Every metric of scored cases, each with its bootstrap interval."""
    ran = [c for c in cases if not c.error]
    # Each metric is a ratio of sums over cases: (numerator, denominator) per case.
    parts: dict[tuple[str, ...], list[tuple[int, int]]] = {}
    for key in TALLIES:
        parts[("tally", key)] = [(int(c.tallies[key]), 1) if key in c.tallies else (0, 0) for c in ran]
    truths = sorted({c.truth for c in ran if c.truth})
    predicted = sorted({c.predicted for c in ran if c.truth})
    for hid in sorted(set(truths) | (set(predicted) - {NONE})):
        parts[("sensitivity", hid)] = [(int(c.predicted == hid), 1) if c.truth == hid else (0, 0) for c in ran]
        parts[("ppv", hid)] = [(int(c.truth == hid), 1) if c.truth and c.predicted == hid else (0, 0)
                               for c in ran]
    for band in BANDS:
        parts[("calibration", band)] = [
            (sum(1 for h, _, b in c.ranked if b == band and h in c.accepted),
             sum(1 for _, _, b in c.ranked if b == band)) if c.truth else (0, 0) for c in ran]
    intervals = bootstrap(parts, resamples, seed)
    metrics = {key: Metric(sum(k for k, _ in rows), sum(n for _, n in rows), *intervals[key])
               for key, rows in parts.items()}
    confusion: dict[str, dict[str, int]] = {}
    for c in ran:
        if c.truth:
            row = confusion.setdefault(c.truth, {})
            row[c.predicted] = row.get(c.predicted, 0) + 1
    truth_band = Counter(_truth_band(c) for c in ran if c.truth)
    return Evaluation(
        kb=kb, cases=cases,
        tallies={key: metrics[("tally", key)] for key in TALLIES},
        hypotheses={h: {"sensitivity": metrics[("sensitivity", h)], "ppv": metrics[("ppv", h)]}
                    for h in sorted({k[1] for k in metrics if k[0] == "sensitivity"})},
        confusion={t: dict(sorted(row.items())) for t, row in sorted(confusion.items())},
        calibration={band: metrics[("calibration", band)] for band in BANDS},
        truth_band={band: truth_band.get(band, 0) for band in (*BANDS, NOT_RANKED)},
        seed=seed, resamples=resamples, unlabelled=list(unlabelled or []))


def _truth_band(c: Scored) -> str:
    """The best band any accepted hypothesis reached, or not ranked."""
    bands = [b for h, _, b in c.ranked if h in c.accepted]
    return min(bands, key=BANDS.index) if bands else NOT_RANKED


def bootstrap(parts: Mapping[Any, list[tuple[int, int]]], resamples: int,
              seed: int) -> dict[Any, tuple[float | None, float | None]]:
    """The percentile 95 % interval of each ratio of sums, resampling the cases with replacement.

    Every metric sees the same resamples (drawn once from ``random.Random(seed)``);
    a resample in which a metric has no denominator is left out of that metric.
    """
    size = len(next(iter(parts.values()), []))
    if not size or resamples <= 0:
        return dict.fromkeys(parts, (None, None))
    rng = random.Random(seed)
    draws = [Counter(rng.choices(range(size), k=size)) for _ in range(resamples)]
    out: dict[Any, tuple[float | None, float | None]] = {}
    for key, rows in parts.items():
        used = [(i, k, n) for i, (k, n) in enumerate(rows) if n]
        values = []
        for counts in draws:
            den = sum(counts[i] * n for i, _, n in used if i in counts)
            if den:
                values.append(sum(counts[i] * k for i, k, _ in used if i in counts) / den)
        if not values:
            out[key] = (None, None)
            continue
        values.sort()
        last = len(values) - 1
        out[key] = (values[round(0.025 * last)], values[round(0.975 * last)])
    return out


__all__ = ["DEFAULT_RESAMPLES", "NONE", "NOT_RANKED", "TALLY_LABELS", "Evaluation", "Metric", "Scored", "bootstrap",
           "evaluate", "labelled", "measure"]
