"""A progress line on a terminal: ``checking rules: 1200/9800``, rewritten in place, cleared at the end.

Only for a terminal: piped or captured stderr gets nothing, so logs and
test output stay as they were.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TextIO

#: Redraw at most this often (seconds): a terminal write per rule would cost more than the check.
INTERVAL = 0.1


class ProgressLine:
    """``progress(stage, done, total)`` draws one line on *stream*; :meth:`clear` wipes it."""

    def __init__(self, stream: TextIO, interval: float = INTERVAL,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.stream = stream
        self.interval = interval
        self.clock = clock
        self._stage = ""
        self._shown = float("-inf")
        self._width = 0

    def __call__(self, stage: str, done: int, total: int) -> None:
        now = self.clock()
        # A new stage is shown at once; within one, at most once per interval.
        if stage == self._stage and now - self._shown < self.interval:
            return
        self._stage, self._shown = stage, now
        text = f"{stage}: {done}/{total}"
        self.stream.write("\r" + text + " " * max(0, self._width - len(text)))
        self.stream.flush()
        self._width = len(text)

    def clear(self) -> None:
        """Blank the line and return to its start, so what follows prints on a clean line."""
        if self._width:
            self.stream.write("\r" + " " * self._width + "\r")
            self.stream.flush()
            self._width = 0


def progress_line(stream: TextIO, isatty: Callable[[], bool] | None = None) -> ProgressLine | None:
    """A progress line on *stream* if it is a terminal (*isatty* overrides the test), else None."""
    try:
        terminal = (isatty or stream.isatty)()
    except (AttributeError, ValueError):  # a closed or unusual stream is no terminal
        terminal = False
    return ProgressLine(stream) if terminal else None
