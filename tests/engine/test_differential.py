"""hipkb's engine against stock experta: the same rules over the same cases give the same results.

hipkb's engine replaces experta's matcher bookkeeping, conflict-resolution
cache and run loop (hipkb.engine.matcher, .strategy, .reasoner); none of that
may change a conclusion, a trace or its order. Each case goes through both
engines and the hipkb-result/1 JSON must be byte-identical, for the shipped
rules and for a seeded synthetic rule base with rules in every layer.

The quick lane runs the same derandomized search for :data:`QUICK_CASES`
cases; the thorough lane (``pytest -m thorough``) for :data:`CASES`.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hipkb.engine.reasoner import ExpertaReteEngine, Reasoner
from hipkb.engine.templates import experta
from hipkb.knowledge.resources import shipped
from hipkb.knowledge.store import load_kb
from hipkb.load.case import validate
from hipkb.results.result import build_result, to_json
from hipkb.testing import strategies as hs

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
CASES = 1000
#: The quick lane's share of the search: each test under 20 s on a busy 2-core machine.
QUICK_CASES = 100


def _stock_json(stock: Reasoner, case) -> str:
    # experta's DepthStrategy memoises activation keys across runs; a fresh
    # cache per case is what a fresh engine would have.
    experta.strategies.DepthStrategy.get_key.cache_clear()
    return to_json(build_result(stock.kb, stock.infer(case)))


def _differential(kb, cases: int) -> None:
    ours, stock = Reasoner(kb), Reasoner(kb, engine=ExpertaReteEngine)
    assert type(stock.engine.matcher) is experta.matchers.rete.ReteMatcher
    leans = sorted(kb.hypotheses)
    strategy = st.one_of([hs.cases(kb)] + [hs.cases(kb, lean_towards=h) for h in leans])

    @settings(max_examples=cases, derandomize=True, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(strategy)
    def same(data):
        case = validate(data, kb.vocabulary, "<generated>", hypotheses=kb.hypotheses)
        assert to_json(build_result(kb, ours.infer(case))) == _stock_json(stock, case)

    same()


def test_shipped_rules_agree_with_stock_experta():
    _differential(load_kb(), QUICK_CASES)


@pytest.mark.thorough
def test_shipped_rules_agree_with_stock_experta_on_every_case():
    _differential(load_kb(), CASES)


def _synthetic(tmp_path: Path):
    sys.path.insert(0, str(BENCHMARKS))
    try:
        import synthkb
    finally:
        sys.path.remove(str(BENCHMARKS))
    rules = synthkb.write(tmp_path / "rules", 150, shipped("rules"), shipped("facts"), seed=11)
    return load_kb(rules, shipped("facts"))


def test_synthetic_rule_base_agrees_with_stock_experta(tmp_path):
    _differential(_synthetic(tmp_path), QUICK_CASES)


@pytest.mark.thorough
def test_synthetic_rule_base_agrees_with_stock_experta_on_every_case(tmp_path):
    _differential(_synthetic(tmp_path), CASES)


def test_example_cases_agree_with_stock_experta():
    from hipkb.load.case import load_case

    kb = load_kb()
    ours, stock = Reasoner(kb), Reasoner(kb, engine=ExpertaReteEngine)
    for path in sorted((shipped("facts") / "cases").glob("*.yaml")):
        case = load_case(path, kb.vocabulary, hypotheses=kb.hypotheses)
        assert to_json(build_result(kb, ours.infer(case))) == _stock_json(stock, case), path.name
