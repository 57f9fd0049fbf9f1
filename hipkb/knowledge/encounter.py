"""The encounter: who assessed the runner, when, where, for which record, and the clinician's notes.

An optional group of a ``hipkb-case/1`` file (``encounter:``) that reports
show in their header and the FHIR Bundle carries where FHIR has a place for
it. Reasoning never reads it: it is kept beside the findings
(:attr:`hipkb.knowledge.case.Case.encounter`), never among them, so no rule,
fact template or count of known findings can see it, and a case gives the
same result with or without it.

Its fields belong to the case format, not to a vocabulary: a ``--facts``
directory of other findings still takes the same encounter. Every value is
text from the case and is escaped wherever it goes, as a ``case_id`` is.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from hipkb.errors import CaseError, allowed_list, describe, did_you_mean

GROUP = "encounter"


@dataclass(frozen=True)
class EncounterField:
    """One field of the encounter: its name, how reports label it, what it holds."""

    name: str
    label: str
    description: str
    max_length: int
    kind: str = "text"  # text | date | notes (text over several lines)


FIELDS: tuple[EncounterField, ...] = (
    EncounterField("date", "Date", "the date of the assessment (YYYY-MM-DD)", 10, "date"),
    EncounterField("clinician", "Clinician", "who assessed the runner", 200),
    EncounterField("record_id", "Patient or record id", "the patient's or the record's identifier", 200),
    EncounterField("setting", "Setting", "where the assessment took place", 200),
    EncounterField("notes", "Notes", "the clinician's own notes; never reasoned on", 4000, "notes"),
)
BY_NAME: dict[str, EncounterField] = {f.name: f for f in FIELDS}
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def validate_encounter(raw: Any, source: str) -> dict[str, str] | None:
    """The encounter of a case file, checked: ``{field: text}`` in field order, or None when absent or empty.

    A date is a calendar date written ``YYYY-MM-DD`` (YAML may leave it
    unquoted); an id may be written as a whole number. Anything else, an
    unknown field or an empty text, is a :class:`CaseError` naming the field.
    """
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise CaseError(source, GROUP, f"expected a mapping, found {describe(raw)}")
    for key in raw:
        if not isinstance(key, str) or key not in BY_NAME:
            raise CaseError(source, f"{GROUP}.{key}", f"unknown field; allowed: {allowed_list(BY_NAME)}"
                            + did_you_mean(key, BY_NAME))
    values: dict[str, str] = {}
    for spec in FIELDS:
        if spec.name not in raw or raw[spec.name] is None:
            continue
        values[spec.name] = _value(spec, raw[spec.name], source)
    return values or None


def _value(spec: EncounterField, raw: Any, source: str) -> str:
    where = f"{GROUP}.{spec.name}"
    if spec.kind == "date":
        if isinstance(raw, datetime.date) and not isinstance(raw, datetime.datetime):
            return raw.isoformat()
        if isinstance(raw, str) and _DATE.fullmatch(raw):
            try:
                return datetime.date.fromisoformat(raw).isoformat()
            except ValueError:
                raise CaseError(source, where, f"found {describe(raw)}; no such date") from None
        raise CaseError(source, where, f"found {describe(raw)}; expected a date written YYYY-MM-DD")
    if spec.name == "record_id" and isinstance(raw, int) and not isinstance(raw, bool) and raw >= 0:
        return str(raw)
    if not isinstance(raw, str):
        raise CaseError(source, where, f"found {describe(raw)}; expected text")
    if not raw.strip():
        raise CaseError(source, where, "found an empty text; leave the field out when there is nothing to say")
    if len(raw) > spec.max_length:
        raise CaseError(source, where, f"longer than {spec.max_length} characters")
    # Notes keep their lines; a one-line field its words.
    return raw.strip() if spec.kind == "notes" else " ".join(raw.split())


def encounter_items(encounter: Mapping[str, str] | None) -> list[dict[str, str]]:
    """The encounter as reports show it: ``[{"name", "label", "text"}]`` in field order, notes last."""
    if not encounter:
        return []
    return [{"name": f.name, "label": f.label, "text": encounter[f.name]} for f in FIELDS if f.name in encounter]


def encounter_schema() -> dict[str, Any]:
    """The JSON Schema of the encounter group (draft 2020-12)."""
    properties: dict[str, Any] = {}
    for f in FIELDS:
        if f.kind == "date":
            properties[f.name] = {"type": "string", "format": "date",
                                  "pattern": r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$", "description": f.description}
        elif f.name == "record_id":
            properties[f.name] = {"anyOf": [{"type": "string", "minLength": 1, "maxLength": f.max_length,
                                             "pattern": r"\S"},
                                            {"type": "integer", "minimum": 0}],
                                  "description": f.description}
        else:
            properties[f.name] = {"type": "string", "minLength": 1, "maxLength": f.max_length, "pattern": r"\S",
                                  "description": f.description}
    return {"type": ["object", "null"], "title": "The encounter", "additionalProperties": False,
            "description": "Who assessed the runner, when and where, and the clinician's notes: "
                           "shown in reports, never reasoned on.",
            "properties": properties}
