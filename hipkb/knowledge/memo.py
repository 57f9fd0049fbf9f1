"""Work done once per knowledge base: its rule index, the analysis tables, its engine.

A knowledge base does not change once loaded, so whatever is derived from it
stays true while it lives. A function decorated with
:func:`per_knowledge_base` keeps its answer beside the knowledge base, weakly:
a knowledge base no longer used takes its derived work with it.
"""

from __future__ import annotations

import functools
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from hipkb.knowledge.rules import KnowledgeBase

T = TypeVar("T")


def per_knowledge_base(build: Callable[[KnowledgeBase], T]) -> Callable[[KnowledgeBase], T]:
    """*build*, called once per knowledge base; later calls return what the first made."""
    made: weakref.WeakKeyDictionary[KnowledgeBase, T] = weakref.WeakKeyDictionary()

    @functools.wraps(build)
    def once(kb: KnowledgeBase) -> T:
        found = made.get(kb)
        if found is None:
            found = made[kb] = build(kb)
        return found

    return once


__all__ = ["per_knowledge_base"]
