"""hipkb.testing.strategies draws every group, field and value, and nothing invalid."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hipkb.errors import CaseError
from hipkb.knowledge.conditions import Condition
from hipkb.load.case import validate
from hipkb.testing import strategies as hs


def _collect(strategy, examples: int = 400) -> list:
    drawn: list = []

    @settings(deadline=None, max_examples=examples, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    @given(strategy)
    def run(value):
        drawn.append(value)

    run()
    return drawn


def test_cases_draw_every_field_value_and_unknown_spelling(kb):
    seen: set[tuple[str, object]] = set()
    omitted: Counter[str] = Counter()
    # Two collections: mostly-known cases show every value, default ones
    # every unknown spelling and omission.
    for case in _collect(hs.cases(kb, unknown_weight=0.2)) + _collect(hs.cases(kb), 200):
        for path, spec in kb.vocabulary.fields.items():
            group = case.get(spec.group) or {}
            if spec.name not in group:
                omitted[path] += 1
                continue
            value = group[spec.name]
            items = value if isinstance(value, list) else [value]
            for item in items:
                seen.add((path, item if not isinstance(item, bool) else ("bool", item)))
    for path, spec in kb.vocabulary.fields.items():
        if spec.type in ("choice", "set"):
            for value in [*spec.values, *spec.unknown]:
                assert (path, value) in seen, (path, value)
        if spec.boolean_values:
            assert any((path, ("bool", b)) in seen for b in spec.boolean_values), path
        if spec.required:
            assert omitted[path] == 0, path
        else:
            assert omitted[path] > 0, f"{path} is never omitted"


def test_required_regions_are_never_empty(kb):
    for case in _collect(hs.cases(kb), 200):
        assert case["pain"]["regions"], case


def test_format_case_id_and_expect_are_sometimes_present(kb):
    drawn = _collect(hs.cases(kb, with_expect=True), 200)
    for key in ("format", "case_id", "expect"):
        present = sum(key in case for case in drawn)
        assert 0 < present < len(drawn), key


def test_unknown_weight_extremes(kb):
    for case in _collect(hs.cases(kb, unknown_weight=0.0), 30):
        known = sum(len(g) for k, g in case.items() if k in kb.vocabulary.groups)
        assert known == len(kb.vocabulary.fields)
    for case in _collect(hs.cases(kb, unknown_weight=1.0), 30):
        known = [f"{g}.{f}" for g, fields in case.items() if g in kb.vocabulary.groups
                 for f, v in fields.items()
                 if not (isinstance(v, str) and v in kb.vocabulary.fields[f"{g}.{f}"].unknown)]
        assert known == ["pain.regions"]


@pytest.mark.parametrize("path", ["runner.age", "history.weeks_since_onset", "pain.severity",
                                  "pain.regions", "history.onset", "neuro.numbness"])
def test_field_values_are_valid_for_their_field(kb, path):
    spec = kb.vocabulary.fields[path]

    @settings(deadline=None, max_examples=60, database=None)
    @given(hs.field_values(path, kb.vocabulary))
    def run(value):
        data = {"pain": {"regions": ["groin"]}}
        data.setdefault(spec.group, {})[spec.name] = value
        unknown = isinstance(value, str) and value in spec.unknown  # a spelling of unknown is unknown
        assert (validate(data, kb.vocabulary, "x").get(path) is None) == unknown, value

    run()


def test_field_values_without_unknown_or_booleans(kb):
    spec = kb.vocabulary.fields["neuro.numbness"]
    values = set(_collect(hs.field_values(spec, unknown=False, booleans=False), 60))
    assert values == set(spec.values)


def test_satisfying_values_meet_every_condition(kb):
    regions = kb.vocabulary.fields["pain.regions"]
    conditions = [Condition("case", "pain.regions", "any", ("groin", "lateral_hip")),
                  Condition("case", "pain.regions", "none", ("lower_back",))]
    for value in _collect(hs.satisfying_values(regions, conditions), 60):
        assert all(c.test(tuple(value)) for c in conditions), value
        assert len(set(value)) == len(value)
    age = kb.vocabulary.fields["runner.age"]
    older = [Condition("case", "runner.age", "range", (50, None))]
    assert all(50 <= v <= 100 for v in _collect(hs.satisfying_values(age, older), 40))
    onset = kb.vocabulary.fields["history.onset"]
    assert hs.satisfying_values(onset, [Condition("case", "history.onset", "in", ("gradual",)),
                                        Condition("case", "history.onset", "in", ("sudden",))]) is None


def test_lean_paths_follow_derived_facts_back_to_findings(kb):
    """Every lean path holds case conditions only, each on a vocabulary field."""
    for hypothesis in kb.hypotheses:
        for path in hs.lean_paths(kb, hypothesis):
            for subject, conditions in path.items():
                assert subject in kb.vocabulary.fields, subject
                assert all(c.kind == "case" for c in conditions)


@settings(deadline=None, max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(drawn=hs.corrupted_cases())
def test_corrupted_cases_break_exactly_what_they_say(kb, drawn):
    case, path = drawn
    with pytest.raises(CaseError) as info:
        validate(case, kb.vocabulary, "x", hypotheses=kb.hypotheses)
    assert info.value.where == path


def test_every_kind_of_corruption_is_drawn(kb):
    kinds: set[str] = set()
    for _case, path in _collect(hs.corrupted_cases(kb), 300):
        kinds.add(path.split(".")[0].split("[")[0])
    # Paths start with a group, a top key, or an invented group name.
    assert {"format", "case_id", "expect", "pain"} <= kinds


def test_strategies_accept_a_knowledge_base_or_a_vocabulary(kb):
    for source in (kb, kb.vocabulary, None):
        case = _collect(hs.cases(source), 5)[0]
        assert validate(case, kb.vocabulary, "x").get("pain.regions"), source


@given(st.data())
@settings(deadline=None, max_examples=20)
def test_expects_are_valid(kb, data):
    expect = data.draw(hs.expects(kb))
    validated = validate({"pain": {"regions": ["groin"]}, "expect": expect}, kb.vocabulary, "x",
                         hypotheses=kb.hypotheses)
    assert validated.expect is not None or not expect
