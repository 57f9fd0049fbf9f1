"""MYCIN certainty factors in EMYCIN form: pooled per sign, then joined once."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from hipkb.engine import certainty as cf

weights = st.floats(min_value=0.01, max_value=1.0, allow_nan=False)
signed = st.lists(st.one_of(weights, weights.map(lambda w: -w)), max_size=8)


def test_parallel_combination_of_two_weights():
    assert math.isclose(cf.pool([0.5, 0.5]), 0.75)
    assert math.isclose(cf.pool([0.6, 0.3]), 0.72)
    assert cf.pool([]) == 0.0


def test_for_and_against_are_joined_once():
    assert cf.combine([0.8, -0.8]) == 0.0
    assert math.isclose(cf.combine([0.8, -0.4]), (0.8 - 0.4) / (1 - 0.4))
    assert cf.combine([1.0, -1.0]) == 0.0  # certain for and certain against: no belief either way


def test_bands_at_their_thresholds():
    assert cf.band(0.6) == "likely" and cf.band(0.5999) == "possible"
    assert cf.band(0.3) == "possible" and cf.band(0.2999) == "unlikely"
    assert cf.band(-0.5) == "unlikely"


@given(signed, st.randoms(use_true_random=False))
def test_order_of_evidence_never_matters(cfs, rnd):
    shuffled = list(cfs)
    rnd.shuffle(shuffled)
    assert math.isclose(cf.combine(cfs), cf.combine(shuffled), abs_tol=1e-12)


@given(signed)
def test_certainty_stays_in_range(cfs):
    assert -1.0 <= cf.combine(cfs) <= 1.0


@given(signed, weights)
def test_more_evidence_for_never_lowers_certainty(cfs, extra):
    assert cf.combine([*cfs, extra]) >= cf.combine(cfs) - 1e-12


@given(signed, weights)
def test_more_evidence_against_never_raises_certainty(cfs, extra):
    assert cf.combine([*cfs, -extra]) <= cf.combine(cfs) + 1e-12
