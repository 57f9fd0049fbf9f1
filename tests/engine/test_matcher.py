"""hipkb's matcher: experta's activations for rules whose patterns share no variables."""

from __future__ import annotations

import pytest

from hipkb.engine.matcher import Pattern, PlanMatcher
from hipkb.engine.reasoner import Engine, ExpertaReteEngine, Reasoner
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
    assert engine.agenda.activations  # activations pending, never fired: a run stopped part way
    engine.reset()
    fresh = Reasoner(kb).engine
    fresh.reset()
    assert [a.rule.__name__ for a in engine.agenda.activations] == \
        [a.rule.__name__ for a in fresh.agenda.activations]
    assert [f.rule for f in ours.infer(_case(kb, BUTTOCK)).firings] == \
        [f.rule for f in Reasoner(kb).infer(_case(kb, BUTTOCK)).firings]


def test_facts_no_pattern_reads_give_no_activation(kb):
    engine = Reasoner(kb).engine
    engine.reset()
    engine.declare(Decision(triage="routine", running="reduce"))
    assert engine.get_activations() == ([], [])


class Seen(experta.Fact):
    pass


class Flag(experta.Fact):
    pass


def _probe(*plans: tuple[str, int, tuple[Pattern, ...]]) -> tuple[Engine, list[tuple[str, dict]]]:
    """An Engine subclass holding hand-made compiled rules, and the list its rules fire into."""
    fired: list[tuple[str, dict]] = []
    attrs = {}
    for name, salience, plan in plans:
        def fire(engine, name=name, **context):
            fired.append((name, {k: dict(v) for k, v in context.items()}))
        fire.__name__ = name
        rule = experta.Rule(salience=salience)(fire)
        rule.plan = plan
        rule.fire_with = lambda engine, context, fire=fire: fire(engine, **context)  # as the compiler's rules
        attrs[name] = rule
    attrs["shell_combine"] = experta.Rule(salience=-1)(lambda engine: None)
    attrs["shell_combine"].plan = ()
    attrs["shell_combine"].fire_with = lambda engine, context: None
    return type("Probe", (Engine,), attrs)(), fired


def _clean(fact) -> dict:
    return {k: v for k, v in fact.items() if k != "__factid__"}


def test_a_rule_holds_for_every_combination_of_the_facts_its_patterns_accept():
    engine, fired = _probe(("pair", 5, (Pattern(Seen, tests=(("x", lambda v: v > 0),), bind="a"),
                                        Pattern(Flag, ("id", "f"), bind="b"))))
    engine.reset()
    engine.declare(Seen(x=1), Seen(x=0), Seen(x=2), Flag(id="f"), Flag(id="g"))
    engine.run()
    got = sorted((f["a"]["x"], f["b"]["id"]) for _, f in fired)
    assert got == [(1, "f"), (2, "f")]


def test_a_missing_slot_never_matches_even_a_negative_test():
    engine, fired = _probe(("neg", 5, (Pattern(Seen, tests=(("x", lambda v: v != 1),), bind="a"),)))
    engine.reset()
    engine.declare(Seen(y=1))
    engine.run()
    assert fired == []


def test_exists_fires_once_however_many_facts_satisfy_it():
    engine, fired = _probe(("any", 5, (Pattern(Flag, exists=True), Pattern(Seen, bind="a"))))
    engine.reset()
    engine.declare(Flag(id="f"), Seen(x=1), Flag(id="g"))
    engine.run()
    engine.declare(Flag(id="h"))
    engine.run()
    assert [(name, _clean(ctx["a"])) for name, ctx in fired] == [("any", {"x": 1})]


def test_agenda_order_is_experta_depth_order():
    # Same rule, several activations: the most recent facts fire first, as in experta.
    engine, fired = _probe(("r", 5, (Pattern(Seen, bind="a"),)))
    engine.reset()
    engine.declare(Seen(x=1))
    engine.declare(Seen(x=2))
    engine.declare(Seen(x=3))
    engine.run()
    assert [ctx["a"]["x"] for _, ctx in fired] == [3, 2, 1]


def test_hand_written_experta_rules_are_refused_with_a_clear_error():
    class Hand(Engine):
        @experta.Rule(experta.Fact(x=1))
        def seen(self):
            pass

    with pytest.raises(TypeError, match="ExpertaReteEngine"):
        Hand()


def test_patterns_on_one_type_keyed_by_two_slots_are_refused():
    class Probe(Engine):
        pass

    one = experta.Rule()(lambda engine: None)
    one.plan = (Pattern(Seen, ("a", 1)), Pattern(Seen, ("b", 1)))
    one.fire_with = lambda engine, context: None
    Probe.one = one
    with pytest.raises(TypeError, match="keyed by"):
        PlanMatcher(Probe.__new__(Probe))


def test_same_activations_as_experta_on_a_case(kb):
    case = _case(kb, GROIN)
    ours = Reasoner(kb).infer(case)
    stock = Reasoner(kb, engine=ExpertaReteEngine).infer(case)
    assert [(f.rule, f.facts) for f in ours.firings] == [(f.rule, f.facts) for f in stock.firings]


def test_an_indexed_pattern_sees_only_facts_holding_its_values_and_fires_once_per_fact():
    regions = (("regions", lambda v: "groin" in v or "buttock" in v),)
    engine, fired = _probe(
        ("eq", 5, (Pattern(Seen, tests=(("x", (1, 2).__contains__),), bind="a", index=("x", (1, 2))),)),
        ("set", 4, (Pattern(Flag, tests=regions, bind="a", index=("regions", ("groin", "buttock"))),)),
    )
    engine.reset()
    # The second Flag includes both indexed values: one activation, not two.
    engine.declare(Seen(x=1), Seen(x=3), Seen(y=1), Flag(regions=("groin",)), Flag(regions=("groin", "buttock")),
                   Flag(regions=("knee",)))
    engine.run()
    assert sorted(_clean(ctx["a"]).get("x", 0) for name, ctx in fired if name == "eq") == [1]
    assert sorted(ctx["a"]["regions"] for name, ctx in fired if name == "set") == [("groin",), ("groin", "buttock")]

