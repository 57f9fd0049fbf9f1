"""The library entry points: everything the CLI does, callable from Python.

>>> from hipkb import api
>>> kb = api.load_kb()
>>> reasoner = api.Reasoner(kb)
>>> result = api.run_case(reasoner, api.load_case("case.yaml", kb))  # doctest: +SKIP
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from hipkb.engine.reasoner import Reasoner
from hipkb.engine.record import Inference
from hipkb.knowledge.resources import shipped
from hipkb.knowledge.rules import KnowledgeBase
from hipkb.load.case import Case, validate
from hipkb.load.case import load_case as _load_case
from hipkb.results.result import build_result, to_json

__all__ = [
    "Case", "KnowledgeBase", "Reasoner", "build_result", "load_case", "load_kb",
    "reasoner_for", "render_result", "report", "run_case", "run_data", "to_json",
]


def load_kb(rules_dir: str | Path | None = None, facts_dir: str | Path | None = None) -> KnowledgeBase:
    """Load a knowledge base; the shipped one unless directories are given."""
    return _load_kb(
        Path(rules_dir).resolve() if rules_dir else shipped("rules"),
        Path(facts_dir).resolve() if facts_dir else shipped("facts"),
    )


@lru_cache(maxsize=8)
def _load_kb(rules_dir: Path, facts_dir: Path) -> KnowledgeBase:
    from hipkb.knowledge.cache import cached_load

    return cached_load(rules_dir, facts_dir, KnowledgeBase.load)


@lru_cache(maxsize=8)
def reasoner_for(kb: KnowledgeBase) -> Reasoner:
    """One compiled engine per knowledge base, built on first use."""
    return Reasoner(kb)


def load_case(path: str | Path, kb: KnowledgeBase) -> Case:
    """Load and validate one case file (``-`` for standard input)."""
    return _load_case(path, kb.vocabulary, hypotheses=kb.hypotheses)


def run_case(reasoner: Reasoner, case: Case) -> dict[str, Any]:
    """Reason about one valid case and return its ``hipkb-result/1`` data."""
    return build_result(reasoner.kb, reasoner.infer(case))


def report(reasoner: Reasoner, case: Case, fmt: str = "json", *, audience: str = "clinician",
           templates: Path | None = None) -> str:
    """Reason about *case* and render the result: JSON, or a report (md, html, txt).

    Every format is rendered from the same result data; reports also get the
    inference, for the step-by-step trace and the WHY NOT of educators.
    """
    inference = reasoner.infer(case)
    result = build_result(reasoner.kb, inference)
    return render_result(reasoner.kb, inference, result, fmt, audience=audience, templates=templates)


def render_result(kb: KnowledgeBase, inference: Inference, result: dict[str, Any], fmt: str = "json", *,
                  audience: str = "clinician", templates: Path | None = None) -> str:
    """Write out a result already built: one line of JSON, or a report (md, html, txt)."""
    if fmt == "json":
        return to_json(result) + "\n"
    from hipkb.report.render import render

    return render(kb, inference, result, fmt=fmt, audience=audience, templates=templates)


def run_data(data: dict[str, Any], kb: KnowledgeBase | None = None, source: str = "<data>") -> dict[str, Any]:
    """Validate a case given as plain data and reason about it."""
    kb = kb or load_kb()
    case = validate(data, kb.vocabulary, source, hypotheses=kb.hypotheses)
    return run_case(reasoner_for(kb), case)
