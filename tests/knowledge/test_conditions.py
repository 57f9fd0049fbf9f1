"""Conditions: the matcher's predicate answers as Condition.test does, for every operator."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from hipkb.knowledge.conditions import BAND_ORDER, CASE, Condition, predicate
from hipkb.knowledge.kinds import Subject

WORDS = st.sampled_from(["groin", "buttock", "lateral_hip", "knee", "painful", "none"])
SETS = st.lists(WORDS, max_size=4, unique=True).map(tuple)
SCALARS = st.one_of(WORDS, st.integers(-5, 90), st.floats(-5, 90, allow_nan=False), st.booleans())


@st.composite
def conditions(draw) -> Condition:
    op = draw(st.sampled_from(["in", "not_in", "any", "all", "none", "range", "present"]))
    if op == "range":
        low, high = draw(st.one_of(st.none(), st.integers(0, 50))), draw(st.one_of(st.none(), st.integers(0, 90)))
        return Condition(CASE, "runner.age", op, (low, high))
    values = tuple(sorted(draw(st.lists(st.one_of(WORDS, st.integers(0, 5)).map(str), min_size=1, max_size=3,
                                        unique=True))))
    return Condition(CASE, "pain.regions", op, values)


@given(conditions(), st.one_of(SCALARS.map(str), SETS, st.integers(-5, 90), st.floats(-5, 90, allow_nan=False)))
def test_the_matcher_predicate_is_condition_test(condition, value):
    try:
        expected = condition.test(value)
    except TypeError:  # a range on text, or a set test on a number: the rule loader never makes one
        return
    assert predicate(condition)(value) == expected


@given(st.sampled_from(sorted(BAND_ORDER)), st.sampled_from(sorted(BAND_ORDER)))
def test_band_conditions_too(band, least):
    condition = Condition(Subject.HYPOTHESIS, "femoral_neck_bsi", "at_least", (least,))
    assert predicate(condition)(band) == condition.test(band)
