"""The conflict resolution strategy: salience first, then the most recent facts, with no cache."""

from __future__ import annotations

from types import SimpleNamespace

from hipkb.engine.strategy import DepthStrategy, activation_key
from hipkb.engine.templates import experta

_RULES: dict[int, SimpleNamespace] = {}


def _activation(salience: int, *fact_ids: int):
    facts = [experta.Fact(__factid__=i) for i in fact_ids]
    rule = _RULES.setdefault(salience, SimpleNamespace(salience=salience))  # one rule per salience
    return experta.activation.Activation(rule, facts)


def test_key_orders_by_salience_then_recency():
    assert activation_key(_activation(10, 1)) < activation_key(_activation(20, 1))
    assert activation_key(_activation(10, 1, 2)) < activation_key(_activation(10, 3))
    assert activation_key(_activation(10, 2, 5))[1] == [5, 2]


def test_agenda_fires_highest_salience_then_most_recent_first():
    agenda = experta.agenda.Agenda()
    strategy = DepthStrategy()
    low, high, recent_high = _activation(1, 1), _activation(9, 2), _activation(9, 3)
    strategy.update_agenda(agenda, [low, high, recent_high], [])
    assert [agenda.get_next() for _ in range(3)] == [recent_high, high, low]


def test_removed_activation_leaves_the_agenda():
    agenda = experta.agenda.Agenda()
    strategy = DepthStrategy()
    a, b = _activation(5, 1), _activation(5, 2)
    strategy.update_agenda(agenda, [a, b], [])
    strategy.update_agenda(agenda, [], [_activation(5, 2)])
    assert agenda.activations == [a]


def test_keys_are_computed_from_each_activation_not_remembered():
    # Equal activations of two runs may carry different fact ids: each gets its own key.
    first, second = _activation(5, 1), _activation(5, 7)
    assert activation_key(first) != activation_key(second)
    agenda = experta.agenda.Agenda()
    strategy = DepthStrategy()
    strategy.update_agenda(agenda, [first], [])
    strategy.update_agenda(agenda, [second], [])
    assert [act.key for act in agenda.activations] == [(5, [1]), (5, [7])]
