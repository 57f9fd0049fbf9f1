"""The JSON Schema (draft 2020-12) of case files, generated from the vocabulary."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hipkb.knowledge.case import CASE_FORMAT
from hipkb.knowledge.encounter import GROUP as ENCOUNTER
from hipkb.knowledge.encounter import encounter_schema
from hipkb.knowledge.scales import RUNNING_ADVICE, TRIAGE_LEVELS
from hipkb.knowledge.vocabulary import Field, Vocabulary

DIALECT = "https://json-schema.org/draft/2020-12/schema"


def field_schema(field: Field) -> dict[str, Any]:
    """The schema of one field's value."""
    schema: dict[str, Any]
    if field.type == "choice":
        values: list[Any] = [*field.values, *field.unknown]
        values += list(field.boolean_values)
        schema = {"enum": values}
    elif field.type in ("integer", "number"):
        schema = {"type": field.type}
        if field.minimum is not None:
            schema["minimum"] = field.minimum
        if field.maximum is not None:
            schema["maximum"] = field.maximum
    elif field.type == "set":
        schema = {"type": "array", "items": {"enum": list(field.values)}, "uniqueItems": True}
        if field.min_items:
            schema["minItems"] = field.min_items
    else:
        schema = {"type": "string", "minLength": 1}
        if field.max_length:
            schema["maxLength"] = field.max_length
    description = field.question or field.description
    if description:
        schema["description"] = description
    return schema


def case_schema(vocabulary: Vocabulary, hypotheses: Sequence[str] = ()) -> dict[str, Any]:
    """A JSON Schema that accepts exactly the case files hipkb accepts."""
    hypothesis_list: dict[str, Any] = {"type": "array", "items": {"type": "string"}}
    if hypotheses:
        hypothesis_list["items"] = {"enum": list(hypotheses)}
    id_spec = vocabulary.top.get("case_id")
    id_limit = (id_spec.max_length if id_spec else 0) or 200
    properties: dict[str, Any] = {
        # null is accepted because the loader reads a bare `format:` as
        # omitted; the schema accepts exactly what hipkb accepts.
        "format": {"enum": [CASE_FORMAT, None]},
        # Not blank: the loader strips the id and refuses an empty one.
        "case_id": {"type": "string", "minLength": 1, "maxLength": id_limit, "pattern": "\\S",
                    "description": "An identifier for the case; defaults to the file name."},
        ENCOUNTER: encounter_schema(),
        "expect": {
            "type": ["object", "null"],
            "additionalProperties": False,
            "description": "Expected outcomes; hipkb check runs cases that have them.",
            "properties": {
                "top": hypothesis_list,
                "in_top3": hypothesis_list,
                "includes": hypothesis_list,
                "excludes": hypothesis_list,
                "triage_at_least": {"enum": list(TRIAGE_LEVELS)},
                "triage_at_most": {"enum": list(TRIAGE_LEVELS)},
                "running": {"enum": list(RUNNING_ADVICE)},
                "running_in": {"type": "array", "minItems": 1, "items": {"enum": list(RUNNING_ADVICE)}},
                "red_flags": {"type": "array", "items": {"type": "string", "pattern": "^[a-z][a-z0-9_]*$"}},
                "no_hop": {"type": "boolean"},
                "known_miss": {"type": "string", "minLength": 1,
                               "description": "Why the knowledge base is known to answer otherwise (a note)."},
            },
        },
    }
    required = []
    for name, group in vocabulary.groups.items():
        group_required = [f for f, spec in group.fields.items() if spec.required]
        group_schema: dict[str, Any] = {
            # A group with every field commented out is null in YAML; it
            # means "nothing known", as the loader reads it.
            "type": "object" if group_required else ["object", "null"],
            "title": group.label,
            "additionalProperties": False,
            "properties": {fname: field_schema(spec) for fname, spec in group.fields.items()},
        }
        if group_required:
            group_schema["required"] = group_required
            required.append(name)
        properties[name] = group_schema
    return {
        "$schema": DIALECT,
        "$id": "https://hipkb.invalid/schema/hipkb-case-1.json",
        "title": "hipkb case file (hipkb-case/1)",
        "type": "object",
        "additionalProperties": False,
        "required": required,
        "properties": properties,
    }
