"""Tasks in flight, in order: the window both the local pool and the Dask cluster stream a batch through.

At most *size* tasks are submitted and not yet taken back; a task is drawn
from the source only when an earlier one is taken, so memory stays flat
however long the stream, and results come back in task order whatever
order the workers finish in.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import Any


class InFlight:
    """A window over *tasks*: each entry is ``[task, future, times lost]``, oldest first."""

    def __init__(self, tasks: Iterable[Any], size: int, submit: Callable[[Any], Any]) -> None:
        self.pending: deque[list[Any]] = deque()
        self._source: Iterator[Any] = iter(tasks)
        self._size = size
        self._submit = submit
        self._exhausted = False

    def fill(self) -> bool:
        """Submit tasks until the window is full or the source is drawn; whether any is in flight."""
        while not self._exhausted and len(self.pending) < self._size:
            try:
                task = next(self._source)
            except StopIteration:
                self._exhausted = True
                break
            self.pending.append([task, self._submit(task), 0])
        return bool(self.pending)

    @property
    def oldest(self) -> list[Any]:
        return self.pending[0]

    def take(self) -> list[Any]:
        """Remove the oldest entry once its result has been taken."""
        return self.pending.popleft()


__all__ = ["InFlight"]
