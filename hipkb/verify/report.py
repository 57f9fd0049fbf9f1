"""Formatting a verification report: plain text for people, JSON for pipelines."""

from __future__ import annotations

import json

import yaml

from hipkb.verify.findings import Finding, Report

MARKS = {"error": "ERROR", "warning": "WARN ", "info": "note "}


def finding_line(f: Finding) -> str:
    """One line: severity, kind, rules, message."""
    rules = f" [{', '.join(f.rules)}]" if f.rules else ""
    where = f" ({f.subject})" if f.subject and f.subject not in f.message and not f.rules else ""
    return f"{MARKS[f.severity]} {f.kind}{rules}: {f.message}{where}"


def case_yaml(case: dict, comment: str = "") -> str:
    """A case as a case file, with an optional comment line on top."""
    text = yaml.safe_dump(case, sort_keys=False, default_flow_style=None, allow_unicode=True)
    head = "".join(f"# {line}\n" for line in comment.splitlines()) if comment else ""
    return head + text


def verdict(report: Report) -> str:
    """``ok: 0 error(s), 0 warning(s), 0 note(s)`` (``FAILED: ...`` with errors or warnings)."""
    counts = report.counts()
    return f"{'FAILED' if report.failed else 'ok'}: {counts['error']} error(s), {counts['warning']} warning(s), " \
           f"{counts['info']} note(s)"


def allowed_line(report: Report, verbose: bool = False) -> str:
    """The findings kb.yaml intends, in one line: how many, of which kinds."""
    kinds: dict[str, int] = {}
    for f, _ in report.allowed:
        kinds[f.kind] = kinds.get(f.kind, 0) + 1
    by_kind = ", ".join(f"{kind} {n}" for kind, n in sorted(kinds.items(), key=lambda item: (-item[1], item[0])))
    return f"allowed by kb.yaml verify.allow: {len(report.allowed)} ({by_kind})" + (
        ":" if verbose else "; --verbose lists them")


def to_text(report: Report, *, show_cases: bool = True, verbose: bool = False) -> str:
    """The verdict and counts first, then each finding, the allowed ones in one line (each with *verbose*), stats."""
    lines = [verdict(report)]
    kb = report.kb
    if kb.get("name"):
        lines.append(f"knowledge base {kb['name']} {kb.get('version', '')}: {kb.get('rules', 0)} rules "
                     f"({kb.get('rules_dir')})")
    else:
        lines.append(f"rules: {kb.get('rules_dir')}")
    for f in report.findings:
        lines.append(finding_line(f))
        if f.file and f.kind in ("load-error", "case-error", "expect-failed"):
            lines.append(f"      in {f.file}")
        if show_cases and f.case is not None:
            lines.extend("      " + line for line in case_yaml(f.case).rstrip().splitlines())
    if report.allowed:
        lines.append(allowed_line(report, verbose))
        if verbose:
            for f, reason in report.allowed:
                lines.append(f"  {f.kind} [{', '.join(f.rules) or f.subject}]: {reason}")
    stats = report.stats
    if "cases" in stats:
        lines.append(f"example cases: {stats['cases']} ({stats['with_expect']} with expect, "
                     f"{stats['expect_failed']} failed)")
    cover = stats.get("coverage")
    if cover:
        lines.append(f"coverage: {cover['fired_by_examples']}/{cover['rules']} rules fired by example cases; "
                     f"{len(cover['fired_by_generated'])} more only by generated cases"
                     + (f" ({', '.join(cover['fired_by_generated'])})" if cover["fired_by_generated"] else "")
                     + f"; {len(cover['never_fired'])} by none"
                     + (f" ({', '.join(cover['never_fired'])})" if cover["never_fired"] else ""))
    bound = stats.get("expansion")
    if bound:
        lines.append(f"expansion: {bound['unknown_rules']} of {bound['rules']} rules not expanded (more than "
                     f"{bound['limit']} alternatives, or a cycle that did not settle); the checks count them as "
                     "able to fire, and a rule that never fires among them goes unseen")
    ex = stats.get("exhaustive")
    if ex:
        lines.append(f"exhaustive: {ex['checked']:,} of {ex['combinations']:,} combinations of "
                     f"{', '.join(ex['fields'])} in {ex['seconds']}s; {ex['violating']:,} broke an invariant; "
                     f"{ex['counterexamples']} minimal counterexample(s)")
    return "\n".join(lines) + "\n"


def to_json(report: Report) -> str:
    return json.dumps(report.to_dict(), ensure_ascii=False, sort_keys=False) + "\n"
