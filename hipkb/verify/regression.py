"""Regression cases and rule coverage.

Every case under ``<facts>/cases`` that carries an ``expect`` block is run and
its expectations checked (the first-ranked hypothesis, hypotheses included
and excluded, the least triage level, the running advice). Every example case,
with or without ``expect``, counts towards coverage: the rules no example
fires are then tried with generated cases, first a case built directly from
the rule's own conditions (followed back through the derivation chain), then
hypothesis-generated cases leaning towards it. A rule fired only by a
generated case is a note with that case, so the author can add it as an
example; a rule nothing fires is a warning.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from hipkb.engine.reasoner import Reasoner
from hipkb.engine.record import Inference
from hipkb.errors import HipkbError
from hipkb.knowledge import conditions as cond
from hipkb.knowledge.index import index
from hipkb.knowledge.rules import KnowledgeBase, RuleDef
from hipkb.knowledge.scales import triage_rank
from hipkb.load.case import Case, validate
from hipkb.load.inputs import expand
from hipkb.results.result import build_result
from hipkb.verify.findings import Finding
from hipkb.verify.logic import Expander, consistent, nest, witness

#: How many hypothesis-generated cases are tried, at most, for the uncovered rules.
DEFAULT_GENERATED = 300


def example_sources(facts_dir: Path | None) -> list:
    """The case sources under ``<facts>/cases`` (recursively), sorted."""
    if facts_dir is None or not (facts_dir / "cases").is_dir():
        return []
    return list(expand([str(facts_dir / "cases")]))


def expect_failures(case: Case, result: dict[str, Any], unsafe_tests: Iterable[str] = ()) -> list[str]:
    """What an ``expect`` block asked for and the result did not give.

    *unsafe_tests* are the knowledge base's loading tests (``safety.unsafe_tests``),
    which ``no_hop`` says must not be among the next questions.
    """
    unsafe_tests = frozenset(unsafe_tests)
    expect = case.expect or {}
    ranked = [h["id"] for h in result["hypotheses"]]
    problems = []
    if "top" in expect and (not ranked or ranked[0] not in expect["top"]):
        first = ranked[0] if ranked else "nothing"
        problems.append(f"top: expected one of {', '.join(expect['top'])}, ranked first: {first}")
    for hid in expect.get("in_top3", ()):
        if hid not in ranked[:3]:
            problems.append(f"in_top3: {hid} is not among {', '.join(ranked[:3]) or 'nothing'}")
    for hid in expect.get("includes", ()):
        if hid not in ranked:
            problems.append(f"includes: {hid} is not ranked")
    for hid in expect.get("excludes", ()):
        if hid in ranked:
            problems.append(f"excludes: {hid} is ranked ({ranked.index(hid) + 1} of {len(ranked)})")
    level = result["triage"]["level"]
    wanted = expect.get("triage_at_least")
    if wanted and triage_rank(level) > triage_rank(wanted):
        problems.append(f"triage_at_least: expected {wanted} or more urgent, got {level}")
    ceiling = expect.get("triage_at_most")
    if ceiling and triage_rank(level) < triage_rank(ceiling):
        problems.append(f"triage_at_most: expected {ceiling} or less urgent, got {level}")
    advice = result["running"]["advice"]
    if expect.get("running") and advice != expect["running"]:
        problems.append(f"running: expected {expect['running']}, got {advice}")
    if expect.get("running_in") and advice not in expect["running_in"]:
        problems.append(f"running_in: expected one of {', '.join(expect['running_in'])}, got {advice}")
    flags = {f["id"] for f in result["red_flags"]}
    for flag in expect.get("red_flags", ()):
        if flag not in flags:
            problems.append(f"red_flags: {flag} is not raised")
    hop = [q["fact"] for q in result["next_questions"] if q["fact"] in unsafe_tests]
    if expect.get("no_hop") and hop:
        problems.append(f"no_hop: the next questions ask about {', '.join(hop)}")
    return problems


def fired_rules(inference: Inference) -> set[str]:
    return {f.rule for f in inference.firings}


def run_examples(kb: KnowledgeBase, reasoner: Reasoner, facts_dir: Path | None,
                 progress: Callable[[str, int, int], None] | None = None) -> tuple[list[Finding], set[str], dict]:
    """Run the example cases: findings for failed expectations, the rules they fired, counts."""
    findings: list[Finding] = []
    fired: set[str] = set()
    stats = {"cases": 0, "with_expect": 0, "expect_failed": 0}
    sources = example_sources(facts_dir)
    for source in sources:
        if progress is not None:
            progress("running example cases", stats["cases"], len(sources))
        stats["cases"] += 1
        try:
            case = source.load(kb)
            inference = reasoner.infer(case)
            result = build_result(kb, inference)
        except HipkbError as error:
            findings.append(Finding("case-error", error.message or str(error), file=source.name,
                                    subject=error.where))
            continue
        fired |= fired_rules(inference)
        if case.expect:
            stats["with_expect"] += 1
            problems = expect_failures(case, result, kb.safety.unsafe_tests)
            known = case.expect.get("known_miss")
            if known and problems:
                findings.append(Finding("expect-known-miss", f"{case.case_id}: " + "; ".join(problems)
                                        + f" (known miss: {known})", file=source.name, subject=case.case_id))
            elif known:
                findings.append(Finding("expect-miss-fixed", f"{case.case_id}: every expectation now holds; "
                                        "remove its known_miss", file=source.name, subject=case.case_id))
            elif problems:
                stats["expect_failed"] += 1
                because = sorted({f.rule for f in inference.firings} & {r.id for r in kb.rules})
                findings.append(Finding(
                    "expect-failed", f"{case.case_id}: " + "; ".join(problems) +
                    (f" (fired: {', '.join(because)})" if because else " (no rule fired)"),
                    file=source.name, subject=case.case_id))
    return findings, fired, stats


def rules_fired_by(kb: KnowledgeBase, reasoner: Reasoner, data: dict[str, Any]) -> set[str]:
    """The rules a case (as data) fires; none when the case is not valid."""
    try:
        case = validate(data, kb.vocabulary, "<generated>", hypotheses=kb.hypotheses)
        return fired_rules(reasoner.infer(case))
    except HipkbError:
        return set()


def _enrich(kb: KnowledgeBase, rule: RuleDef, alternative: frozenset, expander: Expander) -> frozenset:
    """Add the findings of every other compatible rule supporting the hypotheses *rule* reads.

    An expansion only says what is necessary for a hypothesis condition (one
    supporting rule); a band of ``likely`` usually needs several, so pile on
    the evidence that fits with what the alternative already asks.
    """
    for c in rule.conditions:
        if c.kind != cond.HYPOTHESIS:
            continue
        support = sorted(index(kb).support(c.subject), key=lambda r: (-r.conclusion.weight, r.id))
        for other in support:
            for option in expander.rule(other) or []:
                if consistent(alternative | option, kb.vocabulary):
                    alternative = alternative | option
                    break
    return alternative


def constructed_cases(kb: KnowledgeBase, rule: RuleDef, expander: Expander, limit: int = 8) -> list[dict[str, Any]]:
    """Small cases built from the alternatives of a rule's expansion (with and without extra evidence)."""
    alternatives = expander.rule(rule) or []
    cases = []
    for alternative in alternatives[:limit]:
        for variant in (alternative, _enrich(kb, rule, alternative, expander)):
            flat = witness(variant, kb.vocabulary)
            if flat is not None and nest(flat) not in cases:
                cases.append(nest(flat))
    return cases


#: Searches generated cases for rules no example fires:
#: ``search(kb, reasoner, rules, pinned findings per rule id, budget) -> {rule id: case data}``.
#: :func:`hipkb.testing.coverage.search` draws them with hypothesis.
CaseSearch = Callable[[KnowledgeBase, Reasoner, list[RuleDef], dict[str, list[dict[str, Any]]], int],
                      dict[str, dict[str, Any]]]


def coverage(kb: KnowledgeBase, reasoner: Reasoner, fired: set[str], *, generated: int = DEFAULT_GENERATED,
             skip: Iterable[str] = (), search: CaseSearch | None = None, expander: Expander | None = None,
             progress: Callable[[str, int, int], None] | None = None) -> tuple[list[Finding], dict[str, Any]]:
    """Findings for the rules no example fires; *skip*: rules already reported (never fire).

    *expander*: the static checks' own, whose expansions are reused.
    """
    skip = set(skip)
    uncovered = [r for r in kb.rules if r.id not in fired and r.id not in skip]
    stats: dict[str, Any] = {"rules": len(kb.rules), "fired_by_examples": len(fired & set(kb.by_id)),
                             "fired_by_generated": [], "never_fired": []}
    if not uncovered:
        return [], stats
    expander = expander or Expander(kb)
    found_by: dict[str, dict[str, Any]] = {}
    pinned: dict[str, list[dict[str, Any]]] = {}
    for done, rule in enumerate(uncovered):
        if progress is not None:
            progress("covering rules", done, len(uncovered))
        if rule.id in found_by:
            continue
        for data in constructed_cases(kb, rule, expander):
            hits = rules_fired_by(kb, reasoner, data)
            for rid in hits:
                if rid not in fired and rid not in found_by:
                    found_by[rid] = data
            if rule.id in hits:
                break
        else:
            pinned[rule.id] = _pins(kb, rule, expander)
    remaining = [r for r in uncovered if r.id not in found_by]
    if remaining and generated > 0 and search is not None:
        found_by.update(search(kb, reasoner, remaining, pinned, generated))
    findings = []
    for rule in uncovered:
        found = found_by.get(rule.id)
        if found is not None:
            data = {"case_id": f"covers-{rule.id.lower()}", **{k: v for k, v in found.items() if k != "case_id"}}
            stats["fired_by_generated"].append(rule.id)
            findings.append(Finding("covered-by-generated", "no example case fires it; this generated case does",
                                    (rule.id,), file=rule.file, case=data))
        else:
            stats["never_fired"].append(rule.id)
            findings.append(Finding("uncovered-rule", "no example case fires it, nor any generated case",
                                    (rule.id,), file=rule.file))
    return findings, stats


def _pins(kb: KnowledgeBase, rule: RuleDef, expander: Expander) -> list[dict[str, Any]]:
    """Findings to pin in generated cases so that they start from the rule's own conditions."""
    pins = []
    for alternative in (expander.rule(rule) or [])[:4]:
        flat = witness(alternative, kb.vocabulary)
        if flat is not None:
            pins.append({k: v for k, v in flat.items() if any(c.subject == k for c in alternative)})
    return pins
