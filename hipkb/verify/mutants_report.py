"""A mutation run (:mod:`hipkb.verify.mutants`) as text or JSON: the score first, then every survivor by rule file."""

from __future__ import annotations

import json
from pathlib import Path

from hipkb.verify.mutants import Report


def _file(report: Report, path: str) -> str:
    rules_dir = report.kb.get("rules_dir")
    if rules_dir and path:
        try:
            return str(Path(path).relative_to(Path(rules_dir).parent))
        except ValueError:
            pass
    return path or "(no file)"


def score_line(report: Report) -> str:
    tested = len(report.killed) + len(report.survived)
    score = "no mutant tested" if report.score is None else \
        f"{len(report.killed):,}/{tested:,} killed ({report.score:.1%})"
    stillborn = len(report.outcomes) - tested
    return f"mutation score: {score}" + (f"; {stillborn} stillborn (did not compile)" if stillborn else "")


def to_text(report: Report) -> str:
    suite = report.suite
    kb = report.kb
    checked = [f"{suite['examples']} example case(s) ({suite['with_expect']} with expectations)"]
    if suite.get("labelled"):
        checked.append(f"{suite['labelled']} labelled case(s)")
    if suite.get("property_cases") or suite.get("benign"):
        checked.append(f"{suite['property_cases']:,} property case(s) and {suite['benign']} benign case(s)")
    lines = [score_line(report),
             f"{report.made:,} mutants of {kb['name']} {kb['version']} ({kb['rules']} rules), {len(report.outcomes):,} "
             f"run in {report.seconds:.0f} s" + (f"; budget: {report.budget}" if report.budget else ""),
             "checked against " + ", ".join(checked) + "; the invariants on every result"]
    for operator, counts in report.by_operator().items():
        tested = counts["killed"] + counts["survived"]
        share = f" ({counts['killed'] / tested:.0%})" if tested else ""
        lines.append(f"  {operator:<15} {counts['killed']:>5}/{tested:<5} killed{share}")
    if suite.get("errors"):
        lines.append(f"cases that did not run: {len(suite['errors'])}")
    groups = report.survivors_by_file()
    if groups:
        lines += ["", f"surviving mutants ({len(report.survived):,}), by rule file:"]
        for path, outcomes in groups.items():
            lines.append(f"{_file(report, path)} ({len(outcomes)})")
            for o in outcomes:
                lines.append(f"  {o.mutation.key}: {report.descriptions.get(o.mutation.key, '')}: {o.reason}")
    return "\n".join(lines) + "\n"


def to_json(report: Report) -> str:
    data = report.to_dict()
    data["survivors"] = {_file(report, path): items for path, items in data["survivors"].items()}
    return json.dumps(data, ensure_ascii=False) + "\n"


__all__ = ["score_line", "to_json", "to_text"]
