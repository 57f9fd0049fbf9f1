"""Next questions analyse only the rules whose firing could change the result, and lose nothing by it."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from hipkb import api
from hipkb.load.case import validate
from hipkb.results import questions
from hipkb.results.partial import Analyzer
from hipkb.testing import strategies

KB = api.load_kb()
REASONER = api.reasoner_for(KB)
DRAWN = st.one_of(strategies.cases(kb=KB),
                  st.sampled_from(sorted(KB.hypotheses)).flatmap(lambda h: strategies.cases(kb=KB, lean_towards=h)))


@settings(max_examples=200, deadline=None)
@given(DRAWN)
def test_a_rule_left_out_of_the_analysis_could_not_have_raised_a_question(data):
    inference = REASONER.infer(validate(data, KB.vocabulary, "<drawn>", hypotheses=KB.hypotheses))
    analyzer = Analyzer(KB, inference)
    looked_at = {rule.id for rule in questions.candidates(KB, inference, analyzer)}
    left_out = [r for r in KB.rules if r.id not in looked_at]
    assert len(left_out) < len(KB.rules)
    for rule in left_out:
        status = analyzer.rule(rule)
        # Left out is right only where the whole analysis would skip the rule too:
        # it waits on nothing, or firing it would change nothing.
        assert not status.waits_on or questions._stake(KB, inference, rule, lambda s=status: s)[0] <= 0, rule.id
