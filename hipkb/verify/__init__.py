"""Verification of knowledge bases: static anomalies, regression cases, coverage, exhaustive runs.

``hipkb check`` is a thin layer over :func:`verify`::

    >>> from hipkb.verify import verify
    >>> report = verify()                     # doctest: +SKIP
    >>> report.failed, report.counts()        # doctest: +SKIP

One module per job: :mod:`.logic` (reasoning about conditions),
:mod:`.anomalies` (static checks), :mod:`.regression` (expect cases and
coverage), :mod:`.exhaustive` (every combination of chosen fields)
and :mod:`.report` (text and JSON). The rule dependency graph
(``hipkb rules graph``) is :mod:`hipkb.knowledge.rulegraph`.
For researchers measuring a rule base: :mod:`.expectations` and
:mod:`.evaluate` (labelled cases, ``hipkb evaluate``), :mod:`.sensitivity`
(weights and band thresholds moved), :mod:`.mutants` (``hipkb check
--mutants``), :mod:`.differences` (minimal cases where two rule bases
differ), each with its report module, and :mod:`.charts` (their SVG);
:mod:`.compare_spread` spreads ``hipkb compare`` over worker processes or a
cluster.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from hipkb.errors import HipkbError
from hipkb.knowledge.resources import shipped
from hipkb.knowledge.vocabulary import Vocabulary
from hipkb.verify.findings import KINDS, Finding, Report, apply_allow, load_allow, sort_findings
from hipkb.verify.regression import CaseSearch

__all__ = ["KINDS", "Finding", "Report", "verify"]


def verify(rules_dir: str | Path | None = None, facts_dir: str | Path | None = None, *,
           examples: bool = True, generated: int | None = None, search: CaseSearch | None = None,
           progress: Callable[[str, int, int], None] | None = None) -> Report:
    """Check a rule base: load errors, static anomalies, then its example cases and coverage.

    *examples*: run the example cases under ``<facts>/cases`` and report
    coverage. *generated*: how many hypothesis-generated cases to try for the
    rules no example fires (0: only cases built from the rules themselves),
    drawn by *search* (:func:`hipkb.testing.coverage.search` draws them with
    hypothesis; without one, only cases built from the rules are tried).
    *progress*, if given, is told ``(stage, done, total)`` as the long steps go.
    """
    from hipkb.engine.reasoner import Reasoner
    from hipkb.knowledge.rules import KnowledgeBase
    from hipkb.verify.anomalies import expansion_stats, load_findings, static_findings
    from hipkb.verify.logic import Expander
    from hipkb.verify.regression import DEFAULT_GENERATED, coverage, run_examples

    rules_path = Path(rules_dir).resolve() if rules_dir else shipped("rules")
    facts_path = Path(facts_dir).resolve() if facts_dir else shipped("facts")
    report = Report(kb={"rules_dir": str(rules_path), "facts_dir": str(facts_path)})
    vocabulary = Vocabulary.load(facts_path)
    broken = load_findings(rules_path, vocabulary)
    if broken:
        report.findings = sort_findings(broken)
        return report
    kb = KnowledgeBase.load(rules_path, facts_path)
    report.kb.update({"name": kb.name, "version": kb.version, "rules": len(kb.rules)})
    expander = Expander(kb)
    findings = static_findings(kb, progress, expander)
    bound = expansion_stats(kb, expander)
    if bound is not None:
        report.stats["expansion"] = bound
    if examples:
        try:
            reasoner = Reasoner(kb)
        except HipkbError as error:
            findings.append(Finding("load-error", error.message, file=error.source, subject=error.where))
        else:
            failed, fired, stats = run_examples(kb, reasoner, facts_path, progress)
            findings += failed
            never = {rid for f in findings if f.kind == "never-fires" for rid in f.rules}
            covered, cover_stats = coverage(kb, reasoner, fired, skip=never,
                                            generated=DEFAULT_GENERATED if generated is None else generated,
                                            search=search, expander=expander, progress=progress)
            findings += covered
            report.stats.update(stats)
            report.stats["coverage"] = cover_stats
    report.findings = findings
    apply_allow(report, load_allow(rules_path))
    return report
