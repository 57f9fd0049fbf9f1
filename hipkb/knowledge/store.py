"""The one store of loaded knowledge bases: ``load_kb`` is the way to get one.

Two levels, one key. In memory, the last few knowledge bases loaded by this
process, keyed by their directories and the content of their files
(:func:`hipkb.knowledge.files.content_key`, the one digest of a knowledge
base); on disk, :mod:`hipkb.knowledge.cache`, so a cold process skips parsing.
A long-running process (a web server, a notebook) sees an edited rule file on
its next call; an unchanged one is not parsed again.
:meth:`KnowledgeBase.load <hipkb.knowledge.rules.KnowledgeBase.load>` stays the
uncached loader, for code that must read the files afresh (``hipkb check``
of a rule directory being edited, a worker's own copy).
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

from hipkb.knowledge import files
from hipkb.knowledge.cache import cached_load
from hipkb.knowledge.resources import shipped
from hipkb.knowledge.rules import KnowledgeBase

_LOADED: OrderedDict[tuple[Path, Path, str], KnowledgeBase] = OrderedDict()
KEEP = 8  # knowledge bases kept in memory; the least recently used goes first


def load_kb(rules_dir: str | Path | None = None, facts_dir: str | Path | None = None) -> KnowledgeBase:
    """The knowledge base of *rules_dir* and *facts_dir* (the shipped ones when None), loaded once per content."""
    rules = Path(rules_dir).resolve() if rules_dir else shipped("rules")
    facts = Path(facts_dir).resolve() if facts_dir else shipped("facts")
    content = files.content_key(rules, facts)
    key = (rules, facts, content)
    kb = _LOADED.get(key)
    if kb is None:
        kb = _LOADED[key] = cached_load(rules, facts, KnowledgeBase.load, content=content)
        while len(_LOADED) > KEEP:
            _LOADED.popitem(last=False)
    else:
        _LOADED.move_to_end(key)
    return kb


__all__ = ["KEEP", "load_kb"]
