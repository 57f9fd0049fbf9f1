"""Work derived from a knowledge base is done once per knowledge base, and goes with it."""

from __future__ import annotations

import copy
import gc
import weakref

from hipkb import api
from hipkb.knowledge.memo import per_knowledge_base


def test_built_once_per_knowledge_base_and_let_go_with_it():
    calls: list[str] = []

    class Derived:
        pass

    @per_knowledge_base
    def derived(kb):
        calls.append(kb.name)  # not kb itself, which would keep it alive
        return Derived()

    first = api.load_kb()
    second = copy.copy(first)  # another knowledge base, with the same content
    assert derived(first) is derived(first)
    assert derived(second) is not derived(first)
    assert len(calls) == 2

    made = weakref.ref(derived(second))
    del second
    gc.collect()
    assert made() is None  # what was derived from it went with it
