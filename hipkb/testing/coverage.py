"""Generated cases for the rules no example case fires: hypothesis as an adapter of :mod:`hipkb.verify`.

``hipkb check`` hands :func:`search` to :func:`hipkb.verify.verify` when
hypothesis is installed; the verifier itself never imports hypothesis.
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, Phase, Verbosity, given, settings
from hypothesis import strategies as st

from hipkb.engine.reasoner import Reasoner
from hipkb.knowledge import conditions as cond
from hipkb.knowledge.index import index
from hipkb.knowledge.kinds import Kind
from hipkb.knowledge.rules import KnowledgeBase, RuleDef
from hipkb.testing import strategies as hs
from hipkb.verify.regression import rules_fired_by


def search(kb: KnowledgeBase, reasoner: Reasoner, rules: list[RuleDef], pinned: dict[str, list[dict[str, Any]]],
           budget: int) -> dict[str, dict[str, Any]]:
    """Cases leaning towards each hypothesis and starting from each rule's findings: the first firing each rule."""
    wanted = {r.id for r in rules}
    leans = sorted({r.conclusion.target for r in index(kb).by_kind.get(Kind.SUPPORTS, ())})
    options = [hs.cases(kb)] + [hs.cases(kb, lean_towards=h) for h in leans]
    for rule in rules:
        reads: list[str | None] = [*sorted({c.subject for c in rule.conditions if c.kind == cond.HYPOTHESIS}
                                           & set(leans))] or [None]
        for pins in pinned.get(rule.id, []):
            options += [hs.cases(kb, fixed=pins, lean_towards=h, unknown_weight=0.6) for h in reads]
    found: dict[str, dict[str, Any]] = {}

    @settings(max_examples=budget, phases=[Phase.generate], database=None, deadline=None,
              verbosity=Verbosity.quiet, suppress_health_check=list(HealthCheck))
    @given(st.one_of(options))
    def draw(data: dict[str, Any]) -> None:
        # Once every rule has fired, the remaining examples are drawn but not run.
        if len(found) < len(wanted):
            for rid in rules_fired_by(kb, reasoner, data) & wanted:
                found.setdefault(rid, data)

    draw()
    return found
