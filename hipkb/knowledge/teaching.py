"""Learning points (``rules/teaching.yaml``): data for teaching, not rules.

Each hypothesis entry says what tells it apart (its key discriminators), the
classic pitfall, and the source; each concept entry (``concepts``: a way of
reasoning such as "rule out the worst first", or a score such as the Triad's
cumulative risk) gives a title, its points, the pitfall and the source. Teaching mode and the educator report show
them; reasoning never reads them. The file is optional: a knowledge base
without it, or a hypothesis without an entry, works as before. An entry may
name a hypothesis the knowledge base does not declare yet (one being added),
so ids are checked for form, not for presence.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hipkb.errors import RuleError, describe
from hipkb.parse.text import load_file

FILE = "teaching.yaml"
FORMAT = "hipkb-teaching/1"
_ID = re.compile(r"^[a-z][a-z0-9_]*$")
_KEYS = ("discriminators", "pitfall", "source")
_CONCEPT_KEYS = ("title", "points", "pitfall", "source")


@dataclass(frozen=True)
class LearningPoints:
    """What an educator says about one hypothesis."""

    hypothesis: str
    discriminators: tuple[str, ...]
    pitfall: str
    source: str

    def to_dict(self) -> dict[str, Any]:
        return {"discriminators": list(self.discriminators), "pitfall": self.pitfall, "source": self.source}


@dataclass(frozen=True)
class Concept:
    """A way of reasoning an educator teaches across hypotheses ("rule out the worst first")."""

    id: str
    title: str
    points: tuple[str, ...]
    pitfall: str
    source: str

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "title": self.title, "points": list(self.points), "pitfall": self.pitfall,
                "source": self.source}


def load_teaching(rules_dir: Path) -> dict[str, LearningPoints]:
    """The learning points of *rules_dir*, or none when it has no ``teaching.yaml``."""
    path = rules_dir / FILE
    if not path.is_file():
        return {}
    return parse_teaching(load_file(path), str(path))


def load_concepts(rules_dir: Path) -> dict[str, Concept]:
    """The teaching concepts of *rules_dir* (``concepts`` in ``teaching.yaml``), or none."""
    path = rules_dir / FILE
    if not path.is_file():
        return {}
    data = load_file(path)
    parse_teaching(data, str(path))
    return parse_concepts(data, str(path))


def _texts(items: Any, source: str, where: str) -> tuple[str, ...]:
    if not isinstance(items, list) or not items:
        raise RuleError(source, where, f"found {describe(items)}; expected a non-empty list of texts")
    for index, item in enumerate(items):
        if not isinstance(item, str) or not item.strip():
            # A plain YAML item holding ": " is read as a mapping: say so.
            raise RuleError(source, f"{where}[{index}]",
                            f"found {describe(item)}; expected a text (quote it if it holds ': ')")
    return tuple(" ".join(item.split()) for item in items)


def _text(entry: Mapping[str, Any], key: str, source: str, where: str) -> str:
    value = entry.get(key)
    if not isinstance(value, str) or not value.strip():
        raise RuleError(source, f"{where}.{key}", f"found {describe(value)}; expected a text")
    return " ".join(value.split())


def parse_concepts(data: Any, source: str) -> dict[str, Concept]:
    """The ``concepts`` of a teaching file (checked with the rest by :func:`parse_teaching`)."""
    entries = data.get("concepts") or {} if isinstance(data, dict) else {}
    if not isinstance(entries, Mapping):
        raise RuleError(source, "concepts", f"found {describe(entries)}; expected a mapping of concept id to points")
    concepts: dict[str, Concept] = {}
    for cid, entry in entries.items():
        where = f"concepts.{cid}"
        if not isinstance(cid, str) or not _ID.match(cid):
            raise RuleError(source, where, "a concept id is lower_snake_case")
        if not isinstance(entry, Mapping):
            raise RuleError(source, where, f"found {describe(entry)}; expected a mapping of {', '.join(_CONCEPT_KEYS)}")
        unknown = sorted(str(k) for k in entry if k not in _CONCEPT_KEYS)
        if unknown:
            raise RuleError(source, f"{where}.{unknown[0]}", f"unknown key; allowed: {', '.join(_CONCEPT_KEYS)}")
        concepts[cid] = Concept(cid, _text(entry, "title", source, where), _texts(entry.get("points"), source,
                                f"{where}.points"), _text(entry, "pitfall", source, where),
                                _text(entry, "source", source, where))
    return concepts


def parse_teaching(data: Any, source: str) -> dict[str, LearningPoints]:
    """Check the data of a teaching file; every problem names the file and the field."""
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise RuleError(source, "format", f"expected format: {FORMAT}")
    extra = sorted(str(k) for k in data if k not in ("format", "hypotheses", "concepts"))
    if extra:
        raise RuleError(source, extra[0], "unknown key; allowed: format, hypotheses, concepts")
    parse_concepts(data, source)
    entries = data.get("hypotheses")
    if not isinstance(entries, Mapping):
        raise RuleError(source, "hypotheses",
                        f"found {describe(entries)}; expected a mapping of hypothesis id to learning points")
    points: dict[str, LearningPoints] = {}
    for hid, entry in entries.items():
        where = f"hypotheses.{hid}"
        if not isinstance(hid, str) or not _ID.match(hid):
            raise RuleError(source, where, "a hypothesis id is lower_snake_case")
        if not isinstance(entry, Mapping):
            raise RuleError(source, where, f"found {describe(entry)}; expected a mapping of {', '.join(_KEYS)}")
        unknown = sorted(str(k) for k in entry if k not in _KEYS)
        if unknown:
            raise RuleError(source, f"{where}.{unknown[0]}", f"unknown key; allowed: {', '.join(_KEYS)}")
        points[hid] = LearningPoints(hid, _texts(entry.get("discriminators"), source, f"{where}.discriminators"),
                                     _text(entry, "pitfall", source, where), _text(entry, "source", source, where))
    return dict(sorted(points.items()))
