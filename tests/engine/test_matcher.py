"""hipkb's Rete matcher: experta's network and activations, with per-case overheads removed."""

from __future__ import annotations

from hipkb.engine.matcher import FastReteMatcher
from hipkb.engine.reasoner import Engine, Reasoner, StockEngine
from hipkb.engine.templates import Decision, experta
from hipkb.load.case import validate

GROIN = {"pain": {"regions": ["groin"]}, "behaviour": {"hopping": "painful", "walking": "painful"}}
BUTTOCK = {"pain": {"regions": ["buttock"]}, "behaviour": {"sitting": "painful"}}


def _case(kb, data):
    return validate(data, kb.vocabulary, "<test>", hypotheses=kb.hypotheses)


def test_reset_leaves_nothing_of_the_previous_case(kb, reasoner):
    groin, buttock = _case(kb, GROIN), _case(kb, BUTTOCK)
    alone = Reasoner(kb).infer(buttock)
    reasoner.infer(groin)
    after = reasoner.infer(buttock)
    assert [f.rule for f in after.firings] == [f.rule for f in alone.firings]


def test_reset_after_a_run_cut_short_drops_its_activations(kb):
    ours = Reasoner(kb)
    engine = ours.engine
    engine.reset()
    engine.record = None
    engine.declare(*ours.case_facts(_case(kb, GROIN)))
    engine.get_activations()  # activations pending, never fired: a run stopped part way
    engine.reset()
    assert engine.get_activations() == ([], [])
    assert [f.rule for f in ours.infer(_case(kb, BUTTOCK)).firings] == \
        [f.rule for f in Reasoner(kb).infer(_case(kb, BUTTOCK)).firings]


def test_facts_no_pattern_reads_stay_out_of_the_network(kb):
    engine = Reasoner(kb).engine
    matcher = engine.matcher
    assert isinstance(matcher, FastReteMatcher)
    assert Decision not in matcher._root_types
    engine.reset()
    engine.declare(Decision(triage="routine", running="reduce"))
    assert engine.get_activations() == ([], [])


def test_a_pattern_on_a_new_fact_type_added_after_the_build_sees_facts():
    class Marker(experta.Fact):
        pass

    fired = []

    class Probe(Engine):
        @experta.Rule(experta.Fact(x=1))
        def seen(self):
            fired.append("fact")

    engine = Probe()
    # A rule on a new fact type joins the network after it was built, as
    # experta builds any rule: alpha part from the root, then beta part.
    rete = experta.matchers.rete
    rule = experta.Rule(Marker(y=2))(lambda self: fired.append("marker"))
    ruleset = {rete.prepare_rule(rule)}
    terminals = rete.ReteMatcher.build_alpha_part(ruleset, engine.matcher.root_node)
    rete.ReteMatcher.build_beta_part(ruleset, terminals)
    engine.reset()
    engine.declare(Marker(y=2))
    engine.declare(experta.Fact(x=1))
    engine.run()
    assert sorted(fired) == ["fact", "marker"]


def test_same_activations_as_experta_on_a_case(kb):
    case = _case(kb, GROIN)
    ours = Reasoner(kb).infer(case)
    stock = Reasoner(kb, engine=StockEngine).infer(case)
    assert [(f.rule, f.facts) for f in ours.firings] == [(f.rule, f.facts) for f in stock.firings]
