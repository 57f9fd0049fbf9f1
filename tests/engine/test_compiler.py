"""The rule compiler: rules as data to experta Rules, layers kept apart by salience."""

from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st

from hipkb.engine.compiler import (
    DECIDE_SALIENCE,
    build_engine_class,
    compile_rule,
    group_classes,
    salience_bands,
)
from hipkb.engine.matcher import with_initial
from hipkb.engine.reasoner import Engine, ExpertaReteEngine
from hipkb.engine.templates import Derived, HypothesisFact, experta
from hipkb.knowledge.kinds import Kind


def _rules_of(engine_class) -> dict[str, object]:
    return {rule._wrapped.__name__: rule for rule in engine_class().get_rules()}


def test_one_experta_rule_per_rule_and_the_shell_steps(kb):
    rules = _rules_of(build_engine_class(kb, Engine))
    shell = {"SHELL-SCORE", "SHELL-COMBINE", "SHELL-RESOLVE", "SHELL-DECIDE"}
    assert set(rules) == {r.id for r in kb.rules} | shell


def test_layers_run_in_order_and_rules_by_id_within_a_layer(kb):
    rules = _rules_of(build_engine_class(kb, Engine))
    salience = {rid: rule.salience for rid, rule in rules.items()}
    by_layer: dict[int, list[str]] = {}
    for r in kb.rules:
        by_layer.setdefault(r.layer, []).append(r.id)
    layers = sorted(by_layer)
    for earlier, later in itertools.pairwise(layers):
        assert min(salience[i] for i in by_layer[earlier]) > max(salience[i] for i in by_layer[later])
    evidence = min(salience[i] for i in by_layer[3])
    decisions = max(salience[i] for i in by_layer[5])
    combine = rules["SHELL-COMBINE"].salience
    assert evidence > combine > decisions > DECIDE_SALIENCE
    for ids in by_layer.values():
        ordered = sorted(ids)
        assert [salience[i] for i in ordered] == sorted((salience[i] for i in ordered), reverse=True)
        assert len({salience[i] for i in ids}) == len(ids)  # a distinct place on the agenda for each


def test_case_conditions_become_one_pattern_per_group(kb):
    classes = group_classes(kb)
    rule = next(r for r in kb.rules if len({c.subject.split(".")[0] for c in r.conditions if c.kind == "case"}) >= 2)
    compiled = compile_rule(rule, classes)
    patterns, bindings = compiled.patterns, compiled.bindings
    groups = {c.subject.split(".")[0] for c in rule.conditions if c.kind == "case"}
    fact_patterns = [p for p in patterns if isinstance(p, experta.Fact)]
    assert {type(p).__name__.lower() for p in fact_patterns} >= {g.replace("_", "") for g in groups}
    assert sum(len(reads) for _, reads in bindings) == len(rule.conditions) - sum(
        1 for c in rule.conditions if c.kind == "red_flag")


def test_derived_and_hypothesis_conditions_read_conclusion_facts(kb):
    classes = group_classes(kb)
    derived_rule = next(r for r in kb.rules if any(c.kind == "derived" for c in r.conditions))
    patterns = compile_rule(derived_rule, classes).patterns
    assert any(isinstance(p, Derived) for p in patterns)
    band_rule = next(r for r in kb.rules if r.conclusion.kind is Kind.TRIAGE
                     and any(c.kind == "hypothesis" for c in r.conditions))
    patterns = compile_rule(band_rule, classes).patterns
    assert any(isinstance(p, HypothesisFact) for p in patterns)


def test_the_plan_has_one_pattern_per_experta_pattern_binding_the_same_names(kb):
    classes = group_classes(kb)
    for rule in kb.rules:
        compiled = compile_rule(rule, classes)
        patterns, plan = compiled.patterns, compiled.plan
        assert len(plan) == len(patterns), rule.id
        for pattern, planned in zip(patterns, plan, strict=True):
            assert planned.exists == isinstance(pattern, experta.EXISTS)
            if not planned.exists:
                assert type(pattern) is planned.fact_type and pattern.__bind__ == planned.bind
        # experta starts a rule with no pattern, or with an EXISTS, from the initial fact.
        starts = with_initial(plan)[0]
        assert (starts.fact_type is experta.fact.InitialFact) == (not plan or any(p.exists for p in plan))


def test_without_rete_a_rule_keeps_its_plan_and_bindings_only(kb):
    classes = group_classes(kb)
    for rule in kb.rules[:40]:
        full, lean = compile_rule(rule, classes), compile_rule(rule, classes, rete=False)
        assert lean.patterns == [] and (lean.plan, lean.bindings) == (full.plan, full.bindings), rule.id


def test_experta_patterns_are_built_only_for_experta_s_matcher(kb):
    ours, stock = build_engine_class(kb, Engine), build_engine_class(kb, ExpertaReteEngine)
    assert all(len(rule) == 0 for rule in _rules_of(ours).values())
    assert any(len(rule) > 0 for rule in _rules_of(stock).values())


@given(st.dictionaries(st.sampled_from([1, 2, 3, 4, 5]), st.integers(0, 60_000), min_size=1))
def test_layers_of_any_size_never_overlap_on_the_agenda(sizes):
    layout = salience_bands(sizes)
    bands = []
    after = {1: "score", 3: "combine", 4: "resolve"}  # the shell's step after each layer
    for layer in (1, 2, 3, 4, 5):
        size = sizes.get(layer, 0)
        if size:
            bands.append((layout.of(layer, size), layout.of(layer, 1)))  # lowest, highest
        if layer in after:
            step = layout.shell[after[layer]]
            bands.append((step, step))
    bands.append((DECIDE_SALIENCE, DECIDE_SALIENCE))
    for (low, _), (_, high) in itertools.pairwise(bands):
        assert low > high  # each band entirely above the next


def test_the_usual_figures_hold_while_every_layer_fits():
    bands = salience_bands({1: 40, 2: 30, 3: 200, 4: 20, 5: 60})
    assert (bands.base, bands.combine, bands.of(1, 1)) == ({1: 70000, 2: 60000, 3: 50000, 4: 40000, 5: 30000},
                                                        45000, 74998)
    assert bands.shell == {"score": 65000, "combine": 45000, "resolve": 35000}
