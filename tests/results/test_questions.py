"""Next questions: unknown findings that could change the ranking or the triage, never unsafe ones."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings

from hipkb.load.case import validate
from hipkb.results.questions import next_questions
from hipkb.testing import strategies as hs


def _questions(kb, reasoner, data):
    case = validate(data, kb.vocabulary, "<test>", hypotheses=kb.hypotheses)
    inference = reasoner.infer(case)
    return case, inference, next_questions(kb, inference)


def test_a_sparse_case_gets_questions_in_a_stable_order(kb, reasoner):
    data = {"pain": {"regions": ["groin"]}}
    _, _, first = _questions(kb, reasoner, data)
    _, _, again = _questions(kb, reasoner, data)
    assert first and [q.fact for q in first] == [q.fact for q in again]
    assert all(q.question for q in first)


def test_a_clinic_hop_test_is_not_asked_again_as_hopping(kb, reasoner):
    data = {"pain": {"regions": ["groin"]}, "exam": {"single_leg_hop": "pain_free"}}
    _, _, questions = _questions(kb, reasoner, data)
    assert "behaviour.hopping" not in [q.fact for q in questions]


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(hs.cases())
def test_never_asks_for_a_known_or_avoided_finding(kb, reasoner, data):
    case, inference, questions = _questions(kb, reasoner, data)
    known = {path for path, _ in case.facts()}
    avoided = set(inference.avoid)
    for q in questions:
        assert q.fact not in known
        assert q.fact not in avoided
        assert not (kb.vocabulary.same_finding(q.fact) & (known | avoided))
