"""The vocabulary: what a case may say, loaded from ``facts/vocabulary.yaml``.

It plays the part of CLIPS ``deftemplate`` definitions: each group of the case
format becomes one fact template whose slots are the group's fields. The same
data drives validation (:mod:`hipkb.load.case`), the JSON Schema
(:mod:`hipkb.knowledge.schema`), the experta Fact classes (:mod:`hipkb.engine.compiler`) and
the question texts of results.
"""

from __future__ import annotations

import keyword
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from hipkb.errors import RuleError
from hipkb.parse.text import load_file

FIELD_TYPES = ("choice", "integer", "number", "set", "text", "expect")
# Group and field names become experta fact classes and slots, and parts of
# dotted paths (group.field): a dot would split a path in two, and "self" or a
# Python keyword cannot be a slot passed by name.
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
_RESERVED_NAMES = frozenset({"self", *keyword.kwlist})


def _check_name(source: str, where: str, name: str, kind: str) -> None:
    if not _NAME.fullmatch(name) or name in _RESERVED_NAMES:
        raise RuleError(source, where, f"found {kind} name {name!r}; a {kind} name is a letter then letters, "
                        "digits or underscores, and not 'self' nor a Python keyword")


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
    same_finding: tuple[str, ...] = ()
    #: A follow-up: asked only once this other finding is known to hold one of
    #: these values (or, for a number, at least this much).
    asked_when: tuple[tuple[str, tuple[str, ...] | float], ...] = ()
    #: Asked before every other question while unknown (age and sex decide what is in view).
    ask_first: bool = False

    @property
    def path(self) -> str:
        """``group.field``, as facts are written in results."""
        return f"{self.group}.{self.name}" if self.group else self.name

    @property
    def boolean_values(self) -> tuple[bool, ...]:
        """The YAML booleans that mean a value here: true for ``yes``, false for ``no``.

        A bare ``no`` is a boolean to YAML 1.1: a choice with ``no`` but no
        ``yes`` (pregnancy: pregnant, postpartum, no) still reads it as "no".
        """
        if self.type != "choice":
            return ()
        return tuple(flag for flag, word in ((True, "yes"), (False, "no")) if word in self.values)

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

    @cached_property
    def position(self) -> dict[str, int]:
        """Each field's place in the vocabulary's order, by path: what ties between fields go to."""
        return {path: n for n, path in enumerate(self.fields)}

    def field(self, path: str) -> Field | None:
        return self.fields.get(path)

    @cached_property
    def _same(self) -> dict[str, frozenset[str]]:
        # Fields that record one finding in two forms (a clinic hop test and
        # the runner's own report of hopping), closed over both directions.
        links: dict[str, set[str]] = {path: {path} for path in self.fields}
        for path, spec in self.fields.items():
            for other in spec.same_finding:
                group = links[path] | links[other]
                for member in group:
                    links[member] = group
        return {path: frozenset(group - {path}) for path, group in links.items()}

    def same_finding(self, path: str) -> frozenset[str]:
        """The other fields that record the same finding as *path*."""
        return self._same.get(path, frozenset())

    def may_ask(self, path: str, findings: Mapping[str, Any]) -> bool:
        """Whether *path* is worth asking now: not a follow-up to a finding it does not follow.

        A follow-up (``asked_when``) waits until the finding it follows is known
        to hold: what kind of night pain is asked after "yes", never after "no",
        and not before night pain itself is known.
        """
        spec = self.fields.get(path)
        if spec is None:
            return False
        for other, wanted in spec.asked_when:
            value = findings.get(other)
            if value is None:
                return False
            if isinstance(wanted, float):
                if isinstance(value, bool) or not isinstance(value, (int, float)) or value < wanted:
                    return False
            elif not (set(value) & set(wanted) if isinstance(value, tuple) else value in wanted):
                return False
        return True

    @classmethod
    def load(cls, directory: Path) -> Vocabulary:
        path = directory / "vocabulary.yaml"
        data = load_file(path, trusted=True)
        return cls.from_data(data, str(path))

    @classmethod
    def from_data(cls, data: Any, source: str) -> Vocabulary:
        if not isinstance(data, dict) or data.get("format") != "hipkb-vocabulary/1":
            raise RuleError(source, "format", "expected format: hipkb-vocabulary/1")
        for key in ("top", "groups"):
            if not isinstance(data.get(key) or {}, dict):
                raise RuleError(source, key, "expected a mapping")
        for name in data.get("top") or {}:
            _check_name(source, f"top.{name}", str(name), "field")
        top = {
            str(name): _field(source, "", str(name), spec)
            for name, spec in (data.get("top") or {}).items()
        }
        groups: dict[str, Group] = {}
        for gname, gspec in (data.get("groups") or {}).items():
            gname = str(gname)
            _check_name(source, f"groups.{gname}", gname, "group")
            if not isinstance(gspec, dict) or not isinstance(gspec.get("fields"), dict):
                raise RuleError(source, f"groups.{gname}", "a group needs a fields mapping")
            for fname in gspec["fields"]:
                _check_name(source, f"groups.{gname}.fields.{fname}", str(fname), "field")
            fields = {
                str(fname): _field(source, gname, str(fname), fspec)
                for fname, fspec in gspec["fields"].items()
            }
            groups[gname] = Group(gname, str(gspec.get("label", gname)), fields)
        if not groups:
            raise RuleError(source, "groups", "the vocabulary defines no groups")
        paths = {f.path for g in groups.values() for f in g.fields.values()}
        for g in groups.values():
            for f in g.fields.values():
                for other in f.same_finding:
                    if other not in paths or other == f.path:
                        raise RuleError(source, f"{f.path}.same_finding",
                                        f"found {other!r}; expected another field of the vocabulary (group.field)")
                for other, _ in f.asked_when:
                    if other not in paths or other == f.path:
                        raise RuleError(source, f"{f.path}.asked_when",
                                        f"found {other!r}; expected another field of the vocabulary (group.field)")
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
    if not isinstance(values, dict):
        raise RuleError(source, f"{where}.values", "expected a mapping of value: meaning, or a list")
    if ftype in ("choice", "set") and not values:
        raise RuleError(source, where, f"a {ftype} field needs values")
    unknown = spec.get("unknown", ())
    if not isinstance(unknown, list | tuple):
        raise RuleError(source, f"{where}.unknown", "expected a list of the spellings of unknown")
    # A --facts directory comes from a user: every setting is checked here,
    # or a bad one would surface later as a traceback while validating a case.
    return Field(
        group=group,
        name=name,
        type=ftype,
        values={word(k): str(v) for k, v in values.items()},
        unknown=tuple(word(u) for u in unknown),
        minimum=_number(spec, "min", source, where),
        maximum=_number(spec, "max", source, where),
        required=_flag(spec, "required", source, where),
        min_items=_count(spec, "min_items", source, where),
        max_length=_count(spec, "max_length", source, where),
        question=str(spec.get("question", "")),
        description=str(spec.get("description", "")),
        same_finding=_paths(spec, "same_finding", source, where),
        asked_when=_asked_when(spec, source, where),
        ask_first=_flag(spec, "ask_first", source, where),
    )


def _asked_when(spec: dict, source: str, where: str) -> tuple[tuple[str, tuple[str, ...] | float], ...]:
    raw = spec.get("asked_when") or {}
    if not isinstance(raw, dict):
        raise RuleError(source, f"{where}.asked_when", "expected a mapping of group.field: [values] or {min: n}")
    found: list[tuple[str, tuple[str, ...] | float]] = []
    for path, wanted in raw.items():
        if not isinstance(path, str) or path.count(".") != 1:
            raise RuleError(source, f"{where}.asked_when", "expected group.field paths as keys")
        if isinstance(wanted, dict) and set(wanted) == {"min"} and isinstance(wanted["min"], (int, float)) \
                and not isinstance(wanted["min"], bool):
            found.append((path, float(wanted["min"])))
        elif isinstance(wanted, list) and wanted:
            found.append((path, tuple(word(v) for v in wanted)))
        else:
            raise RuleError(source, f"{where}.asked_when.{path}", "expected a list of values or {min: n}")
    return tuple(found)


def _paths(spec: dict, key: str, source: str, where: str) -> tuple[str, ...]:
    raw = spec.get(key) or []
    items = raw if isinstance(raw, list) else [raw]
    if not all(isinstance(item, str) and item.count(".") == 1 for item in items):
        raise RuleError(source, f"{where}.{key}", "expected a list of group.field paths")
    return tuple(items)


def word(value: Any) -> str:
    """YAML 1.1 reads a bare yes/no as a boolean; vocabulary and rules mean the word."""
    if value is True:
        return "yes"
    if value is False:
        return "no"
    return str(value)


def _number(spec: dict, key: str, source: str, where: str) -> float | None:
    value = spec.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
        raise RuleError(source, f"{where}.{key}", f"found {value!r}; expected a number")
    return value


def _flag(spec: dict, key: str, source: str, where: str) -> bool:
    value = spec.get(key, False)
    if not isinstance(value, bool):
        raise RuleError(source, f"{where}.{key}", f"found {value!r}; expected true or false")
    return value


def _count(spec: dict, key: str, source: str, where: str) -> int:
    value = spec.get(key, 0)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise RuleError(source, f"{where}.{key}", f"found {value!r}; expected a whole number >= 0")
    return value
