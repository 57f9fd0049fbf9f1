"""Working memory (the CLIPS fact-list): experta's ``FactList``, declaring hipkb's facts cheaply.

experta checks every declared fact on three counts (no pattern constraint
among its values, no ``__`` in its slot names, its schema fields valid) and
keys it for duplicate detection by a frozenset built slot by slot with a
test per slot. The facts hipkb declares are made by its own templates
(:mod:`hipkb.engine.templates`) from plain values, which the template checks
once when it builds the fact (``plain``), and they declare no schema fields.
For those the checks cannot fail, and the key is the same set of slots.
Any other fact takes experta's own path, checks included.
"""

from __future__ import annotations

import logging
from typing import Any

from hipkb.engine.templates import experta, is_plain

_FACTS_LOG = experta.watchers.FACTS


class FactList(experta.factlist.FactList):
    """experta's fact list with a fast path for plain hipkb facts; duplicates are refused as before."""

    last_index: int

    def __init__(self) -> None:
        super().__init__()
        # Asked once per fact list (one per reset), as the run loop asks its
        # watchers once per run: -v turns them on before a case, never during one.
        self.watched = _FACTS_LOG.isEnabledFor(logging.INFO)

    @staticmethod
    def _get_fact_id(fact: Any) -> Any:
        # experta's key: the class and every slot that is not special
        # (``__factid__``); as a pair instead of one mixed set, no less exact.
        return (fact.__class__, frozenset(item for item in fact.items() if not _special(item[0])))

    def declare(self, fact: Any) -> Any:
        if not is_plain(fact) or "__factid__" in fact:
            return super().declare(fact)
        return self.declare_plain(fact)

    def declare_plain(self, fact: Any) -> Any:
        """:meth:`declare` for a plain fact not declared before (the caller knows: it just made it)."""
        fact_id = (fact.__class__, frozenset(fact.items()))
        counter = self.reference_counter
        seen = counter.get(fact_id, 0)  # not counter[...]: a Counter's missing key calls Python code
        if seen and not self.duplication:
            return None
        idx = self.last_index
        dict.__setitem__(fact, "__factid__", idx)
        self[idx] = fact
        self.last_index = idx + 1
        self.added.append(fact)
        counter[fact_id] = seen + 1
        if self.watched:
            _FACTS_LOG.info(" ==> %s: %r", fact, fact)
        return fact


def _special(key: Any) -> bool:
    return isinstance(key, str) and key.startswith("__") and key.endswith("__")


__all__ = ["FactList"]
