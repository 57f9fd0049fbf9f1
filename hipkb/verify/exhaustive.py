"""Exhaustive runs: every combination of the values of chosen fields, checked against the invariants.

Each chosen field takes every one of its values, plus "unknown" (so unknown
is one of each field's options); every other field stays unknown, or takes
its value from a base case. A list field (``pain.regions``) takes every
sublist; a number takes one value from each interval the rules' thresholds
cut its range into, so every distinct outcome is covered. The number of
combinations is known before the first one runs.

Each combination is run and its result checked against the invariants of
:mod:`hipkb.testing.properties` (safety, consistent advice, traceability,
termination). Monotonicity is checked across combinations: wherever adding a
red-flag or bone-type finding to a combination gives another combination, the
triage of the second must not be lower. A counterexample is shrunk by removing
findings while the violation persists, and reported as a minimal case file.

Work is spread over every core: each worker process loads the knowledge base
and builds its engine once, then takes ranges of combination numbers.
"""

from __future__ import annotations

import functools
import itertools
import json
import math
import os
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hipkb.batch import jobs as batch_jobs
from hipkb.errors import HipkbError
from hipkb.knowledge import conditions as cond
from hipkb.knowledge.kinds import Kind
from hipkb.knowledge.rules import KnowledgeBase
from hipkb.knowledge.scales import TRIAGE_LEVELS, triage_rank
from hipkb.verify.findings import Finding

#: Above this many combinations, a run needs an explicit, higher --max-combinations.
DEFAULT_MAX_COMBINATIONS = 1_000_000
UNKNOWN = None
_NO_RESULT = 255  # triage rank recorded for a combination that did not run
#: Each worker shrinks at most this many combinations per kind of failure (the rest are counted).
SHRINK_PER_KIND = 5


@dataclass(frozen=True)
class Axis:
    """One enumerated field and its options (``None`` is unknown)."""

    path: str
    values: tuple[Any, ...]


@dataclass(frozen=True)
class Counterexample:
    case: dict[str, Any]
    codes: tuple[str, ...]
    messages: tuple[str, ...]
    found_as: dict[str, Any] = field(compare=False, default_factory=dict)


@dataclass
class ExhaustiveReport:
    fields: list[str]
    combinations: int
    checked: int = 0
    violating: int = 0
    counterexamples: list[Counterexample] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def findings(self) -> list[Finding]:
        found = [Finding("invariant", "; ".join(c.messages), subject=", ".join(c.codes), case=c.case)
                 for c in self.counterexamples]
        found += [Finding("case-error", message) for message in self.errors]
        return found


# --------------------------------------------------------------------------
# the space of combinations


def _thresholds(kb: KnowledgeBase, path: str) -> list[float]:
    points: set[float] = set()
    for rule in kb.rules:
        for c in rule.conditions:
            if c.kind == cond.CASE and c.subject == path and c.op == "range":
                points.update(v for v in c.values if v is not None)
    return sorted(points)


def numeric_points(kb: KnowledgeBase, path: str) -> list[Any]:
    """One value in each interval the rules' thresholds cut the field's range into, and each threshold."""
    spec = kb.vocabulary.fields[path]
    step = 1 if spec.type == "integer" else 0.5
    low = spec.minimum if spec.minimum is not None else 0
    high = spec.maximum
    candidates = {low}
    if high is not None:
        candidates.add(high)
    for t in _thresholds(kb, path):
        candidates.update({t - step, t, t + step})
    if spec.type == "integer":
        candidates = {f(v) for v in candidates for f in (math.floor, math.ceil)}
    points = sorted(v for v in candidates if v >= low and (high is None or v <= high))
    return [int(v) if float(v).is_integer() else v for v in points]


def axis_for(kb: KnowledgeBase, path: str) -> Axis:
    spec = kb.vocabulary.fields.get(path)
    if spec is None:
        raise HipkbError("--fields", path, "unknown field; fields: " + ", ".join(kb.vocabulary.fields))
    unknown: tuple[Any, ...] = () if spec.required else (UNKNOWN,)
    if spec.type == "choice":
        return Axis(path, (*unknown, *spec.values))
    if spec.type == "set":
        values = list(spec.values)
        subsets = [list(s) for size in range(spec.min_items, len(values) + 1)
                   for s in itertools.combinations(values, size)]
        return Axis(path, (*unknown, *subsets))
    if spec.is_numeric:
        return Axis(path, (*unknown, *numeric_points(kb, path)))
    raise HipkbError("--fields", path, f"a {spec.type} field cannot be enumerated")


#: Without --fields, fields are added while the combinations stay within this many.
DEFAULT_BUDGET = 20_000


def default_fields(kb: KnowledgeBase, budget: int = DEFAULT_BUDGET) -> list[str]:
    """Fields the safety-critical rules read, through the chain, as many as fit in *budget* combinations.

    Red-flag screens come first, then the findings of bone stress injuries,
    each in vocabulary order; list fields (whose sublists multiply fast) last.
    """
    from hipkb.verify.logic import Expander

    expander = Expander(kb)
    ranked: list[tuple[int, str]] = []
    for rule in kb.rules:
        c = rule.conclusion
        alarm = c.kind is Kind.SUPPORTS and c.target in kb.safety.alarm_hypotheses
        tier = 0 if c.kind is Kind.RED_FLAG else 1 if alarm else None
        if tier is None:
            continue
        for alternative in expander.rule(rule) or []:
            ranked.extend((tier, x.subject) for x in alternative)
    order = {path: i for i, path in enumerate(kb.vocabulary.fields)}
    best: dict[str, int] = {}
    for tier, path in ranked:
        best[path] = min(tier, best.get(path, tier))
    chosen: list[str] = []
    total = 1
    for path in sorted(best, key=lambda p: (kb.vocabulary.fields[p].type == "set", best[p], order[p])):
        size = len(axis_for(kb, path).values)
        if total * size <= budget:
            chosen.append(path)
            total *= size
    return [p for p in kb.vocabulary.fields if p in chosen]


def count(axes: Sequence[Axis]) -> int:
    return math.prod(len(a.values) for a in axes)


def decode(index: int, axes: Sequence[Axis]) -> list[Any]:
    """The values of combination number *index* (the last axis varies fastest)."""
    values = []
    for axis in reversed(axes):
        index, position = divmod(index, len(axis.values))
        values.append(axis.values[position])
    return values[::-1]


def case_for(index: int, axes: Sequence[Axis], base: dict[str, Any]) -> dict[str, Any]:
    """Combination *index* as a case file mapping: the base case, with the axes' fields set or removed."""
    data = json.loads(json.dumps(base))
    for axis, value in zip(axes, decode(index, axes), strict=True):
        group, _, name = axis.path.partition(".")
        target = data.setdefault(group, {})
        if value is UNKNOWN:
            target.pop(name, None)
        else:
            target[name] = value
        if not target:
            data.pop(group)
    data["case_id"] = f"combination-{index}"
    return data


def base_case(kb: KnowledgeBase, axes: Sequence[Axis], base: dict[str, Any] | None) -> dict[str, Any]:
    """The case the combinations vary: *base*, or nothing; required fields not enumerated get a first value."""
    data = json.loads(json.dumps(base or {}))
    data.pop("expect", None)
    chosen = {a.path for a in axes}
    for path, spec in kb.vocabulary.fields.items():
        group, _, name = path.partition(".")
        if spec.required and path not in chosen and name not in data.get(group, {}):
            first = next(iter(spec.values))
            data.setdefault(group, {})[name] = [first] if spec.type == "set" else first
    return data


# --------------------------------------------------------------------------
# the workers


_WORKER: dict[str, Any] = {}


def start_worker(kbs: tuple[tuple[Any, Any], ...], axes: list[Axis], base: dict[str, Any]) -> None:
    """Load the knowledge base and build its subject, once per worker process (:mod:`hipkb.batch.jobs`)."""
    from hipkb.verify.invariants import UnderTest

    ((rules_dir, facts_dir),) = kbs
    kb = KnowledgeBase.load(Path(rules_dir), Path(facts_dir))
    _WORKER.update(subject=UnderTest(kb), axes=axes, base=base)


def _check(subject, data: dict[str, Any]) -> tuple[int, list]:
    """Run one case: its triage rank and its invariant violations."""
    from hipkb.verify.invariants import invariant_violations

    _, inference, result = subject.infer(data)
    return triage_rank(result["triage"]["level"]), invariant_violations(subject.kb, inference, result)


def _shrink(subject, data: dict[str, Any], codes: set[str]) -> dict[str, Any]:
    from hipkb.verify.invariants import invariant_violations, minimize

    def still_fails(candidate: dict[str, Any]) -> bool:
        try:
            _, inference, result = subject.infer(candidate)
        except (HipkbError, AssertionError):
            return False
        return any(v.code in codes for v in invariant_violations(subject.kb, inference, result))

    smaller = minimize(subject, data, still_fails)
    smaller.pop("case_id", None)
    return smaller


def work(span: tuple[int, int]) -> tuple[int, bytes, list[tuple[dict, dict, tuple, tuple]], list[str], int]:
    subject, axes, base = _WORKER["subject"], _WORKER["axes"], _WORKER["base"]
    start, stop = span
    ranks = bytearray()
    found: list[tuple[dict, dict, tuple, tuple]] = []
    errors: list[str] = []
    seen: set[str] = set()
    shrunk: dict[tuple, int] = {}
    violating = 0
    for index in range(start, stop):
        data = case_for(index, axes, base)
        try:
            rank, violations = _check(subject, data)
        except HipkbError as error:
            ranks.append(_NO_RESULT)
            errors.append(f"combination {index}: {error}")
            continue
        ranks.append(rank)
        if violations:
            violating += 1
            codes = tuple(sorted({v.code for v in violations}))
            # A broken rule usually breaks thousands of combinations the same
            # way; a few shrunk examples of each kind of failure say it all.
            shrunk[codes] = shrunk.get(codes, 0) + 1
            if shrunk[codes] > SHRINK_PER_KIND:
                continue
            minimal = _shrink(subject, data, set(codes))
            key = json.dumps([minimal, codes], sort_keys=True)
            if key in seen:
                continue
            seen.add(key)
            _, again = _check(subject, minimal)
            messages = tuple(sorted({v.message for v in again if v.code in codes}))
            found.append((minimal, data, codes, messages))
    return start, bytes(ranks), found, errors, violating


# --------------------------------------------------------------------------
# the run


def run(kb: KnowledgeBase, fields: Iterable[str] | None = None, *, base: dict[str, Any] | None = None,
        jobs: int | None = None, max_combinations: int = DEFAULT_MAX_COMBINATIONS,
        progress: Callable[[int, int], None] | None = None,
        announce: Callable[[list[Axis], int], None] | None = None,
        cluster: str | None = None) -> ExhaustiveReport:
    """Run every combination of *fields* (default: :func:`default_fields`) and check the invariants.

    The work is spread over *jobs* worker processes, or over the Dask cluster
    at *cluster* (``tcp://host:8786`` or ``local:N``).
    """
    paths = list(fields) if fields else default_fields(kb)
    if len(set(paths)) != len(paths):
        raise HipkbError("--fields", "", "a field is named twice")
    axes = [axis_for(kb, p) for p in paths]
    total = count(axes)
    if announce:
        announce(axes, total)
    if total > max_combinations:
        raise HipkbError("--fields", "", f"{total:,} combinations is more than --max-combinations "
                         f"{max_combinations:,}; choose fewer fields or raise the limit")
    base_data = base_case(kb, axes, base)
    assert kb.rules_dir is not None and kb.facts_dir is not None
    kbs = ((kb.rules_dir, kb.facts_dir),)
    jobs = max(1, jobs or os.cpu_count() or 1)
    chunk = max(1, min(2000, total // (jobs * 20) or 1))
    spans = [(i, min(i + chunk, total)) for i in range(0, total, chunk)]
    report = ExhaustiveReport(paths, total)
    ranks = bytearray(total)
    raw: list[tuple[dict, dict, tuple, tuple]] = []
    started = time.monotonic()

    def collect(outcome: tuple[int, bytes, list, list[str], int]) -> None:
        start, chunk_ranks, found, errors, violating = outcome
        report.violating += violating
        ranks[start:start + len(chunk_ranks)] = chunk_ranks
        raw.extend(found)
        report.errors.extend(errors)
        report.checked += len(chunk_ranks)
        if progress:
            progress(report.checked, total)

    if cluster is None and (jobs == 1 or total <= chunk):
        start_worker(kbs, axes, base_data)
        for span in spans:
            collect(work(span))
    else:
        job = batch_jobs.Job(start_worker, work, kbs=kbs, args=(axes, base_data))
        for outcome in _pooled(job, spans, jobs, cluster):
            collect(outcome)
    unique: dict[str, Counterexample] = {}
    for minimal, data, codes, messages in sorted(raw, key=lambda r: json.dumps(r[0], sort_keys=True)):
        unique.setdefault(_key(kb, minimal, codes), Counterexample(minimal, codes, messages, data))
    for example in _monotonicity(kb, axes, base_data, ranks):
        unique.setdefault(_key(kb, example.case, example.codes), example)
    report.counterexamples = sorted(unique.values(), key=lambda c: (c.codes, json.dumps(c.case, sort_keys=True)))
    report.seconds = time.monotonic() - started
    return report


def _pooled(job: batch_jobs.Job, spans: list[tuple[int, int]], jobs: int,
            cluster: str | None) -> Iterable[tuple[int, bytes, list, list[str], int]]:
    """Each span's outcome from worker processes (or a cluster); a span lost with its workers, as errors."""
    def lost(span: tuple[int, int], reason: str) -> tuple[int, bytes, list, list[str], int]:
        start, stop = span
        errors = [f"combinations {start}-{stop - 1}: not run: {reason}"]
        return start, bytes([_NO_RESULT]) * (stop - start), [], errors, 0

    yield from batch_jobs.run(job, spans, jobs=jobs, cluster=cluster, lost=lost)


def _key(kb: KnowledgeBase, case: dict[str, Any], codes: tuple[str, ...]) -> str:
    """Counterexamples that differ only in a required field (which region hurts) tell one story."""
    required = {tuple(p.split(".", 1)) for p, spec in kb.vocabulary.fields.items() if spec.required}
    trimmed = {g: {f: v for f, v in fields.items() if (g, f) not in required} if isinstance(fields, dict) else fields
               for g, fields in case.items()}
    return json.dumps([trimmed, codes], sort_keys=True)


def _additions(kb: KnowledgeBase, axes: Sequence[Axis]) -> list[tuple[int, int, int]]:
    """(axis, from position, to position): steps along one axis that add a red-flag or bone-type finding."""
    from hipkb.verify.invariants import UnderTest

    subject = UnderTest(kb)  # its engine is built only if a case runs; here only its finding lists are read
    single: set[tuple[str, str]] = set()
    for pins in subject.red_flag_findings + subject.bone_findings:
        for path, value in pins.items():
            for item in value if isinstance(value, list) else [value]:
                single.add((path, json.dumps(item)))
    steps = []
    for a, axis in enumerate(axes):
        for i, before in enumerate(axis.values):
            for j, after in enumerate(axis.values):
                if isinstance(after, list):
                    old = [] if before is UNKNOWN else before
                    if not isinstance(old, list) or not set(old) < set(after):
                        continue
                    added = set(after) - set(old)
                    if len(added) == 1 and (axis.path, json.dumps(added.pop())) in single:
                        steps.append((a, i, j))
                elif before is UNKNOWN and after is not UNKNOWN and (axis.path, json.dumps(after)) in single:
                    steps.append((a, i, j))
    return steps


def _monotonicity(kb: KnowledgeBase, axes: Sequence[Axis], base: dict[str, Any],
                  ranks: bytearray) -> list[Counterexample]:
    """Pairs of combinations one added finding apart whose triage went down."""
    from hipkb.verify.invariants import UnderTest, lowers_by, minimize

    steps = _additions(kb, axes)
    if not steps:
        return []
    subject = UnderTest(kb)
    strides = [math.prod(len(b.values) for b in axes[a + 1:]) for a in range(len(axes))]
    found: list[Counterexample] = []
    seen: set[tuple] = set()
    for index in range(len(ranks)):
        positions = None
        for a, i, j in steps:
            if positions is None:
                positions = _positions(index, axes)
            if positions[a] != i:
                continue
            other = index + (j - i) * strides[a]
            if ranks[index] == _NO_RESULT or ranks[other] == _NO_RESULT or ranks[other] <= ranks[index]:
                continue
            key = (a, i, j)
            if key in seen:
                continue  # one example of each lowering step is enough
            seen.add(key)
            data = case_for(index, axes, base)
            data.pop("case_id", None)
            value = axes[a].values[j]
            added = {axes[a].path: value if not isinstance(value, list) else
                     sorted(set(value) - set(axes[a].values[i] or []))}
            data = minimize(subject, data, functools.partial(lowers_by, subject, added))
            found.append(Counterexample(
                data, ("monotonicity",),
                (f"setting {axes[a].path} to {json.dumps(value)} lowers triage from "
                 f"{TRIAGE_LEVELS[ranks[index]]} to {TRIAGE_LEVELS[ranks[other]]}",)))
    return found


def _positions(index: int, axes: Sequence[Axis]) -> list[int]:
    positions = []
    for axis in reversed(axes):
        index, position = divmod(index, len(axis.values))
        positions.append(position)
    return positions[::-1]
