"""The conflict resolution strategy: CLIPS depth strategy, without a cache.

experta's ``DepthStrategy`` memoises each activation's sort key with
``lru_cache``. Activations of successive cases that hold equal facts compare
equal, so the cache hands a new case the key computed for an old one (with the
old fact ids), and every lookup pays for a deep comparison of rules and facts.
Computing the key afresh is cheaper and keeps each run independent of the
runs before it. Order: higher salience first, then the most recent facts.
"""

from __future__ import annotations

import bisect
from typing import Any

from hipkb.engine.templates import experta


def activation_key(activation: Any) -> tuple[int, list[int]]:
    ids = sorted((fact["__factid__"] for fact in activation.facts), reverse=True)
    return (activation.rule.salience, ids)


class DepthStrategy(experta.strategies.DepthStrategy):  # type: ignore[misc]
    """Salience, then recency; the same activations always give the same order."""

    def _update_agenda(self, agenda: Any, added: Any, removed: Any) -> None:
        activations = agenda.activations
        for act in removed:
            key = activation_key(act)
            index = bisect.bisect_left(activations, key, key=lambda a: a.key)
            while index < len(activations) and activations[index].key == key:
                if activations[index].rule is act.rule and activations[index].facts == act.facts:
                    del activations[index]
                    break
                index += 1
        for act in added:
            act.key = activation_key(act)
            bisect.insort(activations, act, key=lambda a: a.key)
