"""The window a batch streams through: in order, never more than its size in flight."""

from __future__ import annotations

from hipkb.batch.inflight import InFlight


def test_tasks_are_drawn_only_as_results_are_taken_and_come_back_in_order():
    drawn: list[int] = []

    def tasks():
        for i in range(10):
            drawn.append(i)
            yield i

    flight = InFlight(tasks(), 3, lambda task: f"future-{task}")
    taken = []
    while flight.fill():
        assert len(flight.pending) <= 3
        assert len(drawn) - len(taken) <= 3  # nothing drawn beyond the window
        task, future, lost = flight.take()
        assert future == f"future-{task}" and lost == 0
        taken.append(task)
    assert taken == list(range(10))


def test_an_empty_source_has_nothing_in_flight():
    assert not InFlight([], 4, lambda task: task).fill()
