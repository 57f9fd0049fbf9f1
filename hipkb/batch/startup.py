"""A command's start-up with the garbage collector paused.

Start-up (hipkb's imports, the knowledge base, its engine) makes objects that
live until the process ends: collecting while they are made frees nothing, and
cost about 5 ms of a cold run. ``hipkb run`` starts up inside :func:`paused`;
the batch runner says when start-up is over (:func:`over`, once the engine is
built, or before it hands the work to other processes), and the end of the
block leaves the collector as the caller had it.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator

# One entry per pause in progress: whether the collector ran before it.
_PAUSES: list[bool] = []


@contextlib.contextmanager
def paused() -> Iterator[None]:
    """Run the block with the collector off (until :func:`over`); afterwards, as it was."""
    running = gc.isenabled()
    gc.disable()
    _PAUSES.append(running)
    try:
        yield
    finally:
        _PAUSES.pop()
        if running:
            gc.enable()


def over() -> None:
    """Start-up is over: the collector runs again if a pause stopped it. Outside a pause, nothing changes."""
    if _PAUSES and _PAUSES[-1]:
        gc.enable()


__all__ = ["over", "paused"]
