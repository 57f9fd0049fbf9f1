"""The vocabulary: what a case may say, loaded from ``facts/vocabulary.yaml``.

It plays the part of CLIPS ``deftemplate`` definitions: each group of the case
format becomes one fact template whose slots are the group's fields. The same
data drives validation (:mod:`hipkb.case`), the JSON Schema
(:mod:`hipkb.schema`), the experta Fact classes (:mod:`hipkb.compiler`) and
the question texts of results.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from .errors import RuleError
from .safeload import load_file

FIELD_TYPES = ("choice", "integer", "number", "set", "text", "expect")
YES_NO = ("yes", "no")


@dataclass(frozen=True)
class Field:
    """One slot of a group: its type, allowed values and the question for it."""

    group: str
    name: str
    type: str
    values: dict[str, str] = field(default_factory=dict)
    unknown: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    required: bool = False
    min_items: int = 0
    max_length: int = 0
    question: str = ""
    description: str = ""

    @property
    def path(self) -> str:
        """``group.field``, as facts are written in results."""
        return f"{self.group}.{self.name}" if self.group else self.name

    @property
    def accepts_booleans(self) -> bool:
        return self.type == "choice" and all(v in self.values for v in YES_NO)

    @property
    def is_numeric(self) -> bool:
        return self.type in ("integer", "number")


@dataclass(frozen=True)
class Group:
    """A mapping of the case file, and one experta fact template."""

    name: str
    label: str
    fields: dict[str, Field]


@dataclass(frozen=True, eq=False)
class Vocabulary:
    """Every group, field and value a case file may use."""

    name: str
    top: dict[str, Field]
    groups: dict[str, Group]
    source: str = ""

    @cached_property
    def fields(self) -> dict[str, Field]:
        """All group fields by path (``pain.regions``), in file order."""
        return {f.path: f for g in self.groups.values() for f in g.fields.values()}

    def field(self, path: str) -> Field | None:
        return self.fields.get(path)

    @classmethod
    def load(cls, directory: Path) -> Vocabulary:
        path = directory / "vocabulary.yaml"
        data = load_file(path, trusted=True)
        return cls.from_data(data, str(path))

    @classmethod
    def from_data(cls, data: Any, source: str) -> Vocabulary:
        if not isinstance(data, dict) or data.get("format") != "hipkb-vocabulary/1":
            raise RuleError(source, "format", "expected format: hipkb-vocabulary/1")
        top = {
            name: _field(source, "", name, spec)
            for name, spec in (data.get("top") or {}).items()
        }
        groups: dict[str, Group] = {}
        for gname, gspec in (data.get("groups") or {}).items():
            if not isinstance(gspec, dict) or not isinstance(gspec.get("fields"), dict):
                raise RuleError(source, f"groups.{gname}", "a group needs a fields mapping")
            fields = {
                fname: _field(source, gname, fname, fspec)
                for fname, fspec in gspec["fields"].items()
            }
            groups[gname] = Group(gname, str(gspec.get("label", gname)), fields)
        if not groups:
            raise RuleError(source, "groups", "the vocabulary defines no groups")
        return cls(str(data.get("name", "")), top, groups, source)


def _field(source: str, group: str, name: str, spec: Any) -> Field:
    where = f"{group}.{name}" if group else name
    if not isinstance(spec, dict):
        raise RuleError(source, where, "a field needs a mapping")
    ftype = spec.get("type")
    if ftype not in FIELD_TYPES:
        raise RuleError(source, where, f"type must be one of {', '.join(FIELD_TYPES)}")
    values = spec.get("values") or {}
    if isinstance(values, list):
        values = {str(v): str(v) for v in values}
    if ftype in ("choice", "set") and not values:
        raise RuleError(source, where, f"a {ftype} field needs values")
    return Field(
        group=group,
        name=name,
        type=ftype,
        values={str(k): str(v) for k, v in values.items()},
        unknown=tuple(str(u) for u in spec.get("unknown", ())),
        minimum=spec.get("min"),
        maximum=spec.get("max"),
        required=bool(spec.get("required", False)),
        min_items=int(spec.get("min_items", 0)),
        max_length=int(spec.get("max_length", 0)),
        question=str(spec.get("question", "")),
        description=str(spec.get("description", "")),
    )
