"""Reasoning about a case makes no reference cycle: reference counts free all it allocates.

Batch workers collect garbage rarely (``hipkb.batch.startup.GC_YOUNG_THRESHOLD``)
because of this; a cycle made per case would make their memory grow between
collections instead of staying flat.
"""

from __future__ import annotations

import gc
from collections import Counter

from hypothesis import given, settings

from hipkb import api
from hipkb.knowledge.resources import shipped
from hipkb.load.case import validate
from hipkb.results.result import build_result, to_json
from hipkb.testing import strategies

KB = api.load_kb()
REASONER = api.reasoner_for(KB)


def _garbage_of(run) -> Counter[str]:
    """The types of what *run* left for the cycle collector (empty when reference counts freed it all)."""
    run()  # first use builds the knowledge base's caches, which live on
    gc.collect()
    enabled = gc.isenabled()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        run()
        gc.collect()
        found = Counter(type(item).__name__ for item in gc.garbage)
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        if enabled:
            gc.enable()
    return found


@settings(max_examples=60, deadline=None)
@given(strategies.cases(kb=KB))
def test_a_case_from_data_to_json_leaves_no_cycle(data):
    def run() -> None:
        case = validate(data, KB.vocabulary, "<drawn>", hypotheses=KB.hypotheses)
        to_json(build_result(KB, REASONER.infer(case)))

    assert _garbage_of(run) == Counter()


def test_a_batch_of_example_files_leaves_no_cycle():
    from hipkb.load.inputs import expand

    sources = list(expand([str(shipped("facts") / "cases")]))
    assert len(sources) > 50

    def run() -> None:
        for source in sources:
            to_json(build_result(KB, REASONER.infer(source.load(KB))))

    assert _garbage_of(run) == Counter()
