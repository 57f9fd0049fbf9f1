"""hipkb.batch.startup: one collector policy per kind of process."""

from __future__ import annotations

import subprocess
import sys

import pytest

from hipkb.batch import startup

_PROBE = """
import gc, sys
from hipkb.batch import startup
threshold = gc.get_threshold()[0]
gc.collect()
with startup.paused():
    junk = [[object()] for _ in range(1000)]
    startup.settle(sys.argv[1])
    print(gc.isenabled(), gc.get_freeze_count() > 0, gc.get_threshold()[0] != threshold)
"""


@pytest.mark.parametrize(("process", "frozen", "tuned"), [
    (startup.ONE_RUN, True, False),
    (startup.WORKER, True, True),
    (startup.SERVER, True, False),
    (startup.SHARED, False, False),
])
def test_each_kind_of_process_gets_its_collector(process, frozen, tuned):
    # In a process of its own: freezing and thresholds are the whole interpreter's.
    out = subprocess.run([sys.executable, "-c", _PROBE, process], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["True", str(frozen), str(tuned)]


def test_a_pause_leaves_the_collector_as_the_caller_had_it():
    import gc

    was = gc.isenabled()
    gc.disable()
    try:
        with startup.paused():
            startup.over()
            assert not gc.isenabled()  # the caller had it off: start-up's end does not turn it on
        assert not gc.isenabled()
    finally:
        if was:
            gc.enable()
