"""The fast evaluator of what rules wait on (hipkb.results.waiting) says what the reference analysis says."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from hipkb import api
from hipkb.knowledge.resources import example_cases
from hipkb.load.case import validate
from hipkb.results.partial import Analyzer
from hipkb.results.waiting import Waiting
from hipkb.testing import strategies

KB = api.load_kb()
REASONER = api.reasoner_for(KB)
DRAWN = st.one_of(strategies.cases(kb=KB),
                  st.sampled_from(sorted(KB.hypotheses)).flatmap(lambda h: strategies.cases(kb=KB, lean_towards=h)))


def _inference(data):
    return REASONER.infer(validate(data, KB.vocabulary, "<drawn>", hypotheses=KB.hypotheses))


@settings(max_examples=200, deadline=None)
@given(DRAWN)
def test_what_a_rule_waits_on_is_what_the_reference_analysis_says(data):
    inference = _inference(data)
    fast, reference = Waiting(KB, inference), Analyzer.reference(KB, inference)
    for rule in reversed(KB.rules):  # another order than the analysis's: no cache may depend on it
        assert fast.waits_on(rule) == reference.rule(rule).waits_on, rule.id


@settings(max_examples=100, deadline=None)
@given(DRAWN)
def test_an_analyzer_through_the_fast_evaluator_gives_the_reference_statuses(data):
    inference = _inference(data)
    quick, reference = Analyzer(KB, inference), Analyzer.reference(KB, inference)
    for rule in KB.rules:
        assert quick.rule(rule) == reference.rule(rule), rule.id


def test_the_example_cases_agree_rule_by_rule():
    paths = example_cases()
    assert len(paths) > 50
    for path in paths:
        inference = REASONER.infer(api.load_case(path, KB))
        fast, reference = Waiting(KB, inference), Analyzer.reference(KB, inference)
        for rule in KB.rules:
            assert fast.waits_on(rule) == reference.rule(rule).waits_on, (path.stem, rule.id)
