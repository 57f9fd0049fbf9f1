"""Every source names a publication: the check ``hipkb check`` makes of citations.

A source (of a rule, a hypothesis, a derived fact, a referral or a learning
point) is read by clinicians in reports; each of its citations must name a
publication they can get. A citation of a document (``knowledge.md §7``)
never does; with a references table (``rules/references.yaml``), a citation
it does not hold does not either. Both are ``unsourced`` errors. A reference
the table holds without its authors, title or year is an
``incomplete-reference`` note: it names a publication, but a reader could
not yet find it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from hipkb.knowledge.references import FILE, Citation, References, split_citations, unpublished
from hipkb.knowledge.rules import MANIFEST, KnowledgeBase
from hipkb.knowledge.teaching import FILE as TEACHING_FILE
from hipkb.verify.findings import Finding


def source_findings(kb: KnowledgeBase) -> list[Finding]:
    """An ``unsourced`` finding per source with a citation that names no publication; notes on the table."""
    refs = kb.references
    rules_dir = Path(kb.rules_dir) if kb.rules_dir else Path()
    findings = []
    for source, rules, subject, file in _sources(kb, rules_dir):
        bad = [c.text for c in _citations(refs, source) if unpublished(c.text) or (refs is not None and c.key is None)]
        if bad:
            findings.append(Finding("unsourced", "source cites " + "; ".join(_why(text, refs) for text in bad),
                                    rules=rules, subject=subject, file=file))
    if refs is not None:
        for ref in refs.entries.values():
            if ref.missing:
                findings.append(Finding("incomplete-reference", f"{ref.key} lacks its {', '.join(ref.missing)}; "
                                        "a reader could not find it", subject=f"references.{ref.key}",
                                        file=refs.source))
    return findings


def _citations(refs: References | None, source: str) -> list[Citation]:
    if refs is not None:
        return refs.resolve(source)
    return [Citation(text, None) for text in split_citations(source)]


def _why(text: str, refs: References | None) -> str:
    if unpublished(text):
        return f"{text!r}, a document the reader cannot get: cite the publication behind it"
    return f"{text!r}, which {FILE} does not hold: add it there, or cite a publication it holds"


def _sources(kb: KnowledgeBase, rules_dir: Path) -> Iterator[tuple[str, tuple[str, ...], str, str]]:
    """Every source of the knowledge base: (text, rule ids, subject, file)."""
    for rule in kb.rules:
        yield rule.source, (rule.id,), "", rule.file
    manifest = str(rules_dir / MANIFEST)
    for hyp in kb.hypotheses.values():
        if hyp.source:
            yield hyp.source, (), f"hypotheses.{hyp.id}", manifest
    for fact in kb.derived.values():
        if fact.source:
            yield fact.source, (), f"derived.{fact.name}", manifest
    for referral in kb.referrals.values():
        if referral.source:
            yield referral.source, (), f"referrals.{referral.id}", manifest
    teaching = str(rules_dir / TEACHING_FILE)
    for hid, points in kb.teaching.items():
        if points.source:
            yield points.source, (), f"hypotheses.{hid}.source", teaching
