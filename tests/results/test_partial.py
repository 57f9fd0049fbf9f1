"""Partial matches: for each rule, whether it fired, is blocked by a known finding, or waits on unknown ones."""

from __future__ import annotations

from hipkb.load.case import validate
from hipkb.results.partial import Analyzer


def _analyze(kb, reasoner, data):
    inference = reasoner.infer(validate(data, kb.vocabulary, "<test>", hypotheses=kb.hypotheses))
    return inference, Analyzer(kb, inference)


def test_fired_rules_are_fired_and_wait_on_nothing(kb, reasoner):
    inference, analyzer = _analyze(kb, reasoner, {"pain": {"regions": ["groin"]}, "behaviour": {"hopping": "painful"}})
    fired = {f.rule for f in inference.firings}
    for status in analyzer.rules():
        if status.rule.id in fired:
            assert status.fired and not status.waits_on


def test_a_rule_on_an_unknown_finding_waits_on_it(kb, reasoner):
    _, analyzer = _analyze(kb, reasoner, {"pain": {"regions": ["buttock"]}})
    waiting = [s for s in analyzer.rules() if not s.fired and not s.blocked]
    assert waiting
    for status in waiting:
        assert status.waits_on
        assert "pain.regions" not in status.waits_on  # known findings are never waited on


def test_a_known_contrary_finding_blocks_the_rule(kb, reasoner):
    _, analyzer = _analyze(kb, reasoner, {"pain": {"regions": ["buttock"]}, "behaviour": {"sitting": "pain_free"}})
    readers = [r for r in kb.rules
               if any(c.subject == "behaviour.sitting" and not c.test("pain_free") for c in r.conditions)]
    assert readers
    for rule in readers:
        status = analyzer.rule(rule)
        assert status.blocked and not status.waits_on


def test_analysis_does_not_depend_on_the_order_rules_are_visited(kb, reasoner):
    data = {"pain": {"regions": ["groin", "lateral_hip"]}, "history": {"onset": "gradual"}}
    _, forward = _analyze(kb, reasoner, data)
    _, backward = _analyze(kb, reasoner, data)
    ahead = {s.rule.id: s.waits_on for s in forward.rules()}
    behind = {s.rule.id: s.waits_on for s in backward.rules(list(reversed(kb.rules)))}
    assert ahead == behind
