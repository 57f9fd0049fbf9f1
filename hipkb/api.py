"""The library entry points: everything the CLI does, callable from Python.

>>> from hipkb import api
>>> kb = api.load_kb()
>>> reasoner = api.Reasoner(kb)
>>> result = api.run_case(reasoner, api.load_case("case.yaml", kb))  # doctest: +SKIP
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hipkb.engine.reasoner import Reasoner, reasoner_for
from hipkb.knowledge.rules import KnowledgeBase
from hipkb.knowledge.store import load_kb
from hipkb.load.case import Case, validate
from hipkb.load.case import load_case as _load_case
from hipkb.report.output import render_result
from hipkb.results.result import build_result, to_json

__all__ = [
    "Case", "KnowledgeBase", "Reasoner", "build_result", "load_case", "load_kb",
    "reasoner_for", "render_result", "report", "run_case", "run_data", "to_json",
]


def load_case(path: str | Path, kb: KnowledgeBase) -> Case:
    """Load and validate one case file (``-`` for standard input)."""
    return _load_case(path, kb.vocabulary, hypotheses=kb.hypotheses)


def run_case(reasoner: Reasoner, case: Case) -> dict[str, Any]:
    """Reason about one valid case and return its ``hipkb-result/1`` data."""
    return build_result(reasoner.kb, reasoner.infer(case))


def report(reasoner: Reasoner, case: Case, fmt: str = "json", *, audience: str = "clinician",
           templates: Path | None = None) -> str | bytes:
    """Reason about *case* and render the result: JSON, a report (md, html, txt), or its PDF (bytes).

    Every format is rendered from the same result data; reports also get the
    inference, for the step-by-step trace and the WHY NOT of educators.
    """
    inference = reasoner.infer(case)
    result = build_result(reasoner.kb, inference)
    return render_result(reasoner.kb, inference, result, fmt, audience=audience, templates=templates)


def run_data(data: dict[str, Any], kb: KnowledgeBase | None = None, source: str = "<data>") -> dict[str, Any]:
    """Validate a case given as plain data and reason about it."""
    kb = kb or load_kb()
    case = validate(data, kb.vocabulary, source, hypotheses=kb.hypotheses)
    return run_case(reasoner_for(kb), case)
