"""The publications a knowledge base cites (``rules/references.yaml``), and how a source names them.

A rule's ``source:`` is text a clinician reads: one or more citations in
short form, separated by ``;`` (outside brackets), each with an optional
remark in brackets::

    "Noakes et al., AJSM 1985 (pubic ramus stress fractures); seed: Symptom Behavior"

:meth:`References.resolve` maps each citation to the entry whose
``cited_as`` form it starts with (the longest such form), or to the seed
article for ``seed: <section>``. Reports list the full publications their
evidence points to, numbered (:func:`numbered`); ``hipkb check`` refuses a
citation that names no publication (:func:`unpublished`, or one the table
does not hold). The file is optional: without it a knowledge base loads and
reasons as before, and its sources are shown as written.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from hipkb.errors import RuleError, describe
from hipkb.parse.text import load_file

FILE = "references.yaml"
FORMAT = "hipkb-references/1"
SEED_FORMS = ("seed article", "seed")
_KEY = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")
_KEYS = ("seed", "authors", "title", "journal", "publisher", "year", "volume", "pages", "url", "cited_as", "note",
         "incomplete")
# A citation that names a file or a section of one (knowledge.md §7, notes.txt):
# a document the reader of a report cannot get, whatever the table holds.
_DOCUMENT = re.compile(r"\.(md|txt|docx?|rst|org)\b|§", re.IGNORECASE)


@dataclass(frozen=True)
class Reference:
    """One publication: who wrote it, what it is called, where and when it appeared."""

    key: str
    title: str
    authors: str = ""
    journal: str = ""
    publisher: str = ""
    year: int | None = None
    volume: str = ""
    pages: str = ""
    url: str = ""
    cited_as: tuple[str, ...] = ()
    note: str = ""
    seed: bool = False
    incomplete: bool = False

    @property
    def text(self) -> str:
        """The full reference, Vancouver style: authors. Title. Journal year;volume:pages."""
        parts = []
        if self.authors:
            parts.append(_period(self.authors))
        parts.append(_period(self.title))
        where = self.journal or self.publisher
        if self.journal:
            tail = where + (f" {self.year}" if self.year else "")
            tail += f";{self.volume}" if self.volume else ""
            tail += f":{self.pages}" if self.pages else ""
            parts.append(tail + ".")
        elif where:
            parts.append(where + (f"; {self.year}." if self.year else "; undated."))
        if self.url:
            parts.append(self.url)
        return " ".join(parts)

    @property
    def missing(self) -> list[str]:
        """What a reader would need to find it and the table does not say."""
        lacking = [] if self.authors else ["authors"]
        if self.incomplete:
            lacking.append("title")
        if not (self.journal or self.publisher):
            lacking.append("journal or publisher")
        if not self.year and not self.url and not self.seed:
            lacking.append("year")
        return lacking


def _period(text: str) -> str:
    text = " ".join(text.split())
    return text if text.endswith((".", "?", "!")) else text + "."


@dataclass(frozen=True)
class Citation:
    """One citation of a source: its text, the reference it names (or None), the section or remark."""

    text: str
    key: str | None
    detail: str = ""


@dataclass(frozen=True)
class References:
    """Every publication of a knowledge base, and the short forms its sources use."""

    entries: Mapping[str, Reference] = field(default_factory=dict)
    source: str = ""

    @property
    def seed(self) -> Reference | None:
        return next((r for r in self.entries.values() if r.seed), None)

    @cached_property
    def _forms(self) -> list[tuple[str, str]]:
        forms = [(_norm(form), ref.key) for ref in self.entries.values() for form in ref.cited_as]
        seed = self.seed
        if seed is not None:
            forms += [(form, seed.key) for form in SEED_FORMS]
        return sorted(forms, key=lambda item: -len(item[0]))

    @cached_property
    def _resolved(self) -> dict[str, tuple[Citation, ...]]:
        return {}  # source text -> its citations: a report cites the same few sources again and again

    def resolve(self, source: str) -> list[Citation]:
        """The citations of *source*, each with the reference it names (``key`` None when none)."""
        found = self._resolved.get(source)
        if found is None:
            found = tuple(self._resolve(source))
            if len(self._resolved) < 10_000:
                self._resolved[source] = found
        return list(found)

    def _resolve(self, source: str) -> list[Citation]:
        forms = self._forms
        out = []
        for text in split_citations(source):
            key, detail = None, ""
            if not unpublished(text):
                low = _norm(text)
                for form, ref in forms:
                    if low == form or (low.startswith(form) and low[len(form)] in " ,(:;."):
                        key = ref
                        detail = text[len(form):].strip(" ,:;.")
                        break
            out.append(Citation(text, key, detail))
        return out


def _norm(text: str) -> str:
    return " ".join(text.split()).casefold()


def split_citations(source: str) -> list[str]:
    """*source* cut at each ``;`` outside brackets: ``"A (x; y); B"`` is ``["A (x; y)", "B"]``."""
    parts, depth, start = [], 0, 0
    for i, char in enumerate(source):
        if char in "([":
            depth += 1
        elif char in ")]":
            depth = max(0, depth - 1)
        elif char == ";" and depth == 0:
            parts.append(source[start:i])
            start = i + 1
    parts.append(source[start:])
    return [" ".join(p.split()) for p in parts if p.strip()]


def unpublished(citation: str) -> bool:
    """Whether a citation names a document rather than a publication (``knowledge.md §3``)."""
    return bool(_DOCUMENT.search(citation))


def numbered(references: References | None, sources: Iterable[str]) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """The references *sources* point to, numbered in order of first citation.

    Returns ``(items, numbers)``: ``items`` as reports list them
    (``{"n", "key", "text", "incomplete"}``), and ``numbers``, each cited
    reference's key with its number.
    """
    numbers: dict[str, int] = {}
    items: list[dict[str, Any]] = []
    if references is None:
        return items, numbers
    for source in sources:
        for citation in references.resolve(source):
            if citation.key is None or citation.key in numbers:
                continue
            numbers[citation.key] = len(numbers) + 1
            ref = references.entries[citation.key]
            items.append({"n": numbers[citation.key], "key": ref.key, "text": ref.text,
                          "incomplete": ref.incomplete})
    return items, numbers


def load_references(rules_dir: Path) -> References | None:
    """The references of *rules_dir*, or None when it has no ``references.yaml``."""
    path = rules_dir / FILE
    if not path.is_file():
        return None
    return parse_references(load_file(path), str(path))


def parse_references(data: Any, source: str) -> References:
    """Check the data of a references file; every problem names the file and the field."""
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise RuleError(source, "format", f"expected format: {FORMAT}")
    extra = sorted(str(k) for k in data if k not in ("format", "references"))
    if extra:
        raise RuleError(source, extra[0], "unknown key; allowed: format, references")
    entries = data.get("references")
    if not isinstance(entries, dict):
        raise RuleError(source, "references", f"found {describe(entries)}; expected a mapping of key to reference")
    refs: dict[str, Reference] = {}
    owner: dict[str, str] = {}
    for key, spec in entries.items():
        where = f"references.{key}"
        if not isinstance(key, str) or not _KEY.match(key):
            raise RuleError(source, where, "a reference key is lower case letters, digits, '-', '_' or '.'")
        if not isinstance(spec, dict):
            raise RuleError(source, where, f"found {describe(spec)}; expected a mapping")
        unknown = sorted(str(k) for k in spec if k not in _KEYS)
        if unknown:
            raise RuleError(source, f"{where}.{unknown[0]}", f"unknown key; allowed: {', '.join(_KEYS)}")
        texts = {}
        for name in ("authors", "title", "journal", "publisher", "volume", "pages", "url", "note"):
            value = spec.get(name, "")
            if isinstance(value, int) and not isinstance(value, bool) and name in ("volume", "pages"):
                value = str(value)
            if not isinstance(value, str):
                raise RuleError(source, f"{where}.{name}", f"found {describe(value)}; expected text")
            texts[name] = " ".join(value.split())
        if not texts["title"]:
            raise RuleError(source, f"{where}.title", "a reference needs its title")
        year = spec.get("year")
        if year is not None and (isinstance(year, bool) or not isinstance(year, int) or not 1500 < year < 3000):
            raise RuleError(source, f"{where}.year", f"found {describe(year)}; expected a year")
        flags = {}
        for name in ("seed", "incomplete"):
            flags[name] = spec.get(name, False)
            if not isinstance(flags[name], bool):
                raise RuleError(source, f"{where}.{name}", f"found {describe(flags[name])}; expected true or false")
        cited = spec.get("cited_as", [])
        if not isinstance(cited, list) or not all(isinstance(c, str) and c.strip() for c in cited):
            raise RuleError(source, f"{where}.cited_as", "expected a list of the short forms rules cite it by")
        if not cited and not flags["seed"]:
            raise RuleError(source, f"{where}.cited_as", "a reference needs the short forms rules cite it by")
        for form in cited:
            norm = _norm(form)
            if norm in owner or norm in SEED_FORMS:
                raise RuleError(source, f"{where}.cited_as", f"{form!r} already names {owner.get(norm, 'the seed')}")
            owner[norm] = key
        refs[key] = Reference(key=key, cited_as=tuple(" ".join(c.split()) for c in cited), year=year,
                              seed=flags["seed"], incomplete=flags["incomplete"], **texts)
    seeds = [r.key for r in refs.values() if r.seed]
    if len(seeds) > 1:
        raise RuleError(source, f"references.{seeds[1]}.seed", f"only one seed article; {seeds[0]} is already")
    return References(refs, source)
