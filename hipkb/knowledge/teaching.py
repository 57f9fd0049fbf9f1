"""Learning points per hypothesis (``rules/teaching.yaml``): data for teaching, not rules.

Each entry says what tells a hypothesis apart (its key discriminators), the
classic pitfall, and the source. Teaching mode and the educator report show
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
from hipkb.load.safeload import load_file

FILE = "teaching.yaml"
FORMAT = "hipkb-teaching/1"
_ID = re.compile(r"^[a-z][a-z0-9_]*$")
_KEYS = ("discriminators", "pitfall", "source")


@dataclass(frozen=True)
class LearningPoints:
    """What an educator says about one hypothesis."""

    hypothesis: str
    discriminators: tuple[str, ...]
    pitfall: str
    source: str

    def to_dict(self) -> dict[str, Any]:
        return {"discriminators": list(self.discriminators), "pitfall": self.pitfall, "source": self.source}


def load_teaching(rules_dir: Path) -> dict[str, LearningPoints]:
    """The learning points of *rules_dir*, or none when it has no ``teaching.yaml``."""
    path = rules_dir / FILE
    if not path.is_file():
        return {}
    return parse_teaching(load_file(path), str(path))


def parse_teaching(data: Any, source: str) -> dict[str, LearningPoints]:
    """Check the data of a teaching file; every problem names the file and the field."""
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise RuleError(source, "format", f"expected format: {FORMAT}")
    extra = sorted(str(k) for k in data if k not in ("format", "hypotheses"))
    if extra:
        raise RuleError(source, extra[0], "unknown key; allowed: format, hypotheses")
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
        discriminators = entry.get("discriminators")
        if not isinstance(discriminators, list) or not discriminators:
            raise RuleError(source, f"{where}.discriminators",
                            f"found {describe(discriminators)}; expected a non-empty list of texts")
        for index, item in enumerate(discriminators):
            if not isinstance(item, str) or not item.strip():
                # A plain YAML item holding ": " is read as a mapping: say so.
                raise RuleError(source, f"{where}.discriminators[{index}]",
                                f"found {describe(item)}; expected a text (quote it if it holds ': ')")
        texts = {}
        for key in ("pitfall", "source"):
            value = entry.get(key)
            if not isinstance(value, str) or not value.strip():
                raise RuleError(source, f"{where}.{key}", f"found {describe(value)}; expected a text")
            texts[key] = " ".join(value.split())
        points[hid] = LearningPoints(hid, tuple(" ".join(d.split()) for d in discriminators),
                                     texts["pitfall"], texts["source"])
    return dict(sorted(points.items()))
