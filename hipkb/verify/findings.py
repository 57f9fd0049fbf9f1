"""Findings of a verification, and the knowledge base's list of intended ones.

A :class:`Finding` is one thing ``hipkb check`` has to say: what kind of
anomaly, how serious, which rules, and one line of explanation. Errors and
warnings make the check fail (exit status 1); notes (``info``) do not.

A knowledge base may mark findings it intends in its manifest, so that a
deliberate conflict (two rules that both fire on one case and are reconciled
by the shell's safety precedence) does not fail the check forever::

    # rules/kb.yaml
    verify:
      allow:
        - finding: conflict
          rules: [RUN-CONTINUE-TENDON, RUN-STOP-BSI]
          reason: the most restrictive running advice wins; intended
        - finding: unread-field
          subject: runner.occupation
          reason: asked for the clinician's report, not reasoned on

An entry matches a finding of its kind whose rules include every rule it
lists and whose subject equals the one it names; an entry naming neither
matches every finding of that kind. Each entry needs a ``reason``. Allowed
findings are still reported, apart, with their reason.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hipkb.errors import RuleError
from hipkb.parse.text import load_file

ERROR, WARNING, INFO = "error", "warning", "info"
SEVERITIES = (ERROR, WARNING, INFO)

#: Every kind of finding, with its severity and what it means (for docs and --help).
KINDS: dict[str, tuple[str, str]] = {
    "load-error": (ERROR, "the rule base does not load: unknown fact or value, duplicate id, bad syntax"),
    "never-fires": (ERROR, "a rule whose conditions contradict each other, directly or through the chain"),
    "cycle": (ERROR, "derived facts that depend on themselves"),
    "unreachable-hypothesis": (ERROR, "a hypothesis that no rule able to fire supports"),
    "red-flags-ignored": (ERROR, "red flags are raised but no rule reads them, so they cannot raise triage"),
    "unproduced-derived": (WARNING, "a derived fact declared in kb.yaml that no rule able to fire concludes"),
    "unused-derived": (WARNING, "a derived fact (or one of its values) that rules conclude but none reads"),
    "unraised-red-flag": (WARNING, "a red flag declared in kb.yaml that no rule raises"),
    "redundant": (WARNING, "a rule subsumed by another with the same conclusion"),
    "conflict": (WARNING, "two rules that can fire on one case with conflicting conclusions"),
    "unread-field": (WARNING, "a field of the vocabulary that no rule condition reads"),
    "expansion-bound": (WARNING, "a rule or condition with too many ways to hold to expand: the checks count it "
                                 "as able to hold"),
    "unsourced": (ERROR, "a source that names no publication: a document the reader cannot get (knowledge.md §7), "
                         "or a citation rules/references.yaml does not hold"),
    "incomplete-reference": (INFO, "a reference of rules/references.yaml without its authors, title or year"),
    "expect-failed": (ERROR, "an example case whose expect block does not hold"),
    "expect-known-miss": (INFO, "a case whose expect block does not hold, recorded as a known miss with its reason"),
    "expect-miss-fixed": (WARNING, "a case recorded as a known miss whose expect block now holds: remove known_miss"),
    "case-error": (ERROR, "an example case that does not load or run"),
    "uncovered-rule": (WARNING, "a rule that neither an example case nor a generated case fires"),
    "covered-by-generated": (INFO, "a rule no example case fires, fired by a generated case (shown)"),
    "invariant": (ERROR, "a case that breaks a safety or consistency invariant"),
    "stale-allow": (INFO, "an entry of verify.allow in kb.yaml that matched no finding"),
}


@dataclass(frozen=True)
class Finding:
    """One anomaly: its kind, the rules involved, and one line saying why."""

    kind: str
    message: str
    rules: tuple[str, ...] = ()
    subject: str = ""
    file: str = ""
    severity: str = ""
    case: dict[str, Any] | None = field(default=None, compare=False, hash=False)

    def __post_init__(self) -> None:
        if not self.severity:
            object.__setattr__(self, "severity", KINDS[self.kind][0])

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"kind": self.kind, "severity": self.severity, "rules": list(self.rules),
                                "message": self.message}
        if self.subject:
            data["subject"] = self.subject
        if self.file:
            data["file"] = self.file
        if self.case is not None:
            data["case"] = self.case
        return data


@dataclass(frozen=True)
class Allow:
    """One entry of ``verify.allow``: findings the knowledge base intends."""

    finding: str
    reason: str
    rules: tuple[str, ...] = ()
    subject: str = ""

    def matches(self, f: Finding) -> bool:
        if f.kind != self.finding:
            return False
        if self.rules and not set(self.rules) <= set(f.rules):
            return False
        return not self.subject or self.subject == f.subject


@dataclass
class Report:
    """Everything a check found, in a stable order."""

    kb: dict[str, Any] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)
    allowed: list[tuple[Finding, str]] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)

    @property
    def failed(self) -> bool:
        """Errors or warnings fail the check; notes do not."""
        return any(f.severity in (ERROR, WARNING) for f in self.findings)

    def counts(self) -> dict[str, int]:
        return {s: sum(1 for f in self.findings if f.severity == s) for s in SEVERITIES}

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": "hipkb-check/1",
            "kb": self.kb,
            "ok": not self.failed,
            "counts": self.counts(),
            "findings": [f.to_dict() for f in self.findings],
            "allowed": [{**f.to_dict(), "reason": reason} for f, reason in self.allowed],
            "stats": self.stats,
        }


def sort_findings(findings: Iterable[Finding]) -> list[Finding]:
    """Errors first, then by kind, rules and subject, so output is stable."""
    order = {s: i for i, s in enumerate(SEVERITIES)}
    kinds = {k: i for i, k in enumerate(KINDS)}
    unique = {(f.kind, f.rules, f.subject, f.message): f for f in findings}
    return sorted(unique.values(), key=lambda f: (order[f.severity], kinds.get(f.kind, 99), f.rules, f.subject,
                                                  f.message))


def load_allow(rules_dir: Path | None) -> list[Allow]:
    """The ``verify.allow`` entries of a rules directory's ``kb.yaml`` (none if absent)."""
    if rules_dir is None or not (rules_dir / "kb.yaml").is_file():
        return []
    src = str(rules_dir / "kb.yaml")
    data = load_file(rules_dir / "kb.yaml")
    block = data.get("verify") if isinstance(data, dict) else None
    if block is None:
        return []
    if not isinstance(block, dict) or set(block) - {"allow"}:
        raise RuleError(src, "verify", "expected a mapping with one key, allow")
    entries = block.get("allow") or []
    if not isinstance(entries, list):
        raise RuleError(src, "verify.allow", "expected a list of {finding, rules, subject, reason}")
    allows = []
    for index, entry in enumerate(entries):
        where = f"verify.allow[{index}]"
        if not isinstance(entry, dict) or set(entry) - {"finding", "rules", "subject", "reason"}:
            raise RuleError(src, where, "expected a mapping of finding, rules, subject, reason")
        kind = entry.get("finding")
        if kind not in KINDS:
            raise RuleError(src, f"{where}.finding", f"found {kind!r}; allowed: {', '.join(KINDS)}")
        reason = entry.get("reason")
        if not isinstance(reason, str) or not reason.strip():
            raise RuleError(src, f"{where}.reason", "say why this finding is intended")
        rules = entry.get("rules") or []
        if isinstance(rules, str):
            rules = [rules]
        if not isinstance(rules, list) or not all(isinstance(r, str) for r in rules):
            raise RuleError(src, f"{where}.rules", "expected a list of rule ids")
        allows.append(Allow(kind, reason.strip(), tuple(rules), str(entry.get("subject") or "")))
    return allows


def apply_allow(report: Report, allows: list[Allow]) -> None:
    """Move intended findings to ``report.allowed``; note entries that matched nothing."""
    kept: list[Finding] = []
    used: set[int] = set()
    for f in report.findings:
        for index, allow in enumerate(allows):
            if allow.matches(f):
                report.allowed.append((f, allow.reason))
                used.add(index)
                break
        else:
            kept.append(f)
    for index, allow in enumerate(allows):
        if index not in used:
            what = ", ".join(allow.rules) or allow.subject or "any"
            kept.append(Finding("stale-allow", f"verify.allow entry {allow.finding} ({what}) matched no finding",
                                allow.rules, allow.subject))
    report.findings = sort_findings(kept)
