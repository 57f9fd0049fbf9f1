"""hipkb's start-up and garbage-collector policy, for every kind of process, in one place.

Start-up (hipkb's imports, the knowledge base, its engine) makes objects that
live until the process ends: collecting while they are made frees nothing, and
cost about 5 ms of a cold run. ``hipkb run`` starts up inside :func:`paused`;
the batch runner says when start-up is over (:func:`over`, once the engine is
built, or before it hands the work to other processes), and the end of the
block leaves the collector as the caller had it.

Once the engine is built, :func:`settle` sets the collector for what the
process is (:data:`ONE_RUN`, :data:`WORKER`, :data:`SERVER`, :data:`SHARED`):
the knowledge base and the engine live as long as the process, so a process
that is ours alone freezes them out of the collector's sight (full
collections stop walking tens of thousands of objects, pages shared with a
parent stay untouched, and the interpreter's last collections at exit skip
them: about 15 ms of a 120 ms one-case run).
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator

#: The CLI's own run of a command: it keeps what start-up made until it exits.
ONE_RUN = "one run"
#: A pool worker or the CLI's own batch: long-lived, running many cases, ours alone.
WORKER = "worker"
#: ``hipkb serve``: long-lived, ours alone, answering requests.
SERVER = "server"
#: A Dask worker: shared with whatever else the cluster runs, so its collector is left as it is.
SHARED = "shared"

GC_YOUNG_THRESHOLD = 10_000  # allocations between collections of the youngest generation, in a worker

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


def settle(process: str) -> None:
    """Start-up is over in a process of this kind (:data:`ONE_RUN` ...): set its collector, then :func:`over`."""
    if process in (WORKER, SERVER):
        gc.collect()  # a long-lived process frees start-up's garbage first; for one run that costs more than it frees
    if process != SHARED:
        gc.freeze()
    if process == WORKER:
        # A case allocates thousands of short-lived objects and makes no
        # reference cycle (tests/engine/test_no_cycles.py): at the default
        # threshold of 700 the collector walks them dozens of times per
        # case, most of them still alive. Walked ten times less often,
        # nearly all are freed by their reference counts first (about 4%
        # of a case's CPU).
        gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])
    over()


__all__ = ["GC_YOUNG_THRESHOLD", "ONE_RUN", "SERVER", "SHARED", "WORKER", "over", "paused", "settle"]
