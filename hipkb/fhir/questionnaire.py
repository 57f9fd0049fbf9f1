"""The case form as a FHIR R4 ``Questionnaire``, generated from the vocabulary.

One group item per vocabulary group (``linkId`` = the group's name), one item
per field inside it (``linkId`` = ``group.field``), with the vocabulary's
question as its text:

- a choice is a ``choice`` item whose answer options are codings of hipkb's
  code system, the spellings of unknown (``unknown``, ``not_tested``) last,
  so a form can record "not tested" explicitly (it means the same as no
  answer);
- a set is a repeating ``choice`` item; where an empty list is a finding
  (``history.prior_conditions: []``: none of them) and the values have no
  ``none`` of their own, a ``none`` option stands for it, exclusive of the
  others (``questionnaire-optionExclusive``): an unanswered item is unknown,
  which an empty list is not;
- an integer or a number is an ``integer`` or ``decimal`` item with its
  bounds in the ``minValue`` and ``maxValue`` extensions;
- text is a ``string`` item.

``case_id`` is a ``string`` item before the groups, then the encounter
(its date a ``date`` item, its notes ``text``, the rest ``string``), which
reports show and reasoning never reads; ``format`` and
``expect`` are not asked (a response is always this format; expectations are
for regression cases).

``enableWhen`` is used once: where the pain began (``pain.origin``) is asked
after where it is felt (``pain.regions``), which every case must give, so it
never hides a finding a case can hold. No other field depends on another in
every case: menstrual dysfunction, for one, can be recorded whatever the sex
recorded (or left unknown), so it is never hidden.
"""

from __future__ import annotations

from typing import Any

from hipkb.fhir.codesystem import (
    MAX_VALUE,
    MIN_VALUE,
    coding,
    questionnaire_id,
    questionnaire_url,
)
from hipkb.knowledge.encounter import FIELDS as ENCOUNTER_FIELDS
from hipkb.knowledge.encounter import GROUP as ENCOUNTER
from hipkb.knowledge.form import ENCOUNTER_TYPES, ITEM_TYPES, NONE_OF_THESE, has_none_option
from hipkb.knowledge.vocabulary import Field, Vocabulary

OPTION_EXCLUSIVE = "http://hl7.org/fhir/StructureDefinition/questionnaire-optionExclusive"
# Which field is asked only once another is answered: dependent -> prerequisite.
ENABLE_AFTER = {"pain.origin": "pain.regions"}
UNKNOWN_DISPLAY = {"unknown": "unknown", "not_tested": "not tested"}


def questionnaire(vocabulary: Vocabulary) -> dict[str, Any]:
    """The Questionnaire resource as plain JSON data, the same every time."""
    ident, version = questionnaire_id(vocabulary)
    items: list[dict[str, Any]] = []
    case_id = vocabulary.top.get("case_id")
    if case_id is not None:
        item: dict[str, Any] = {"linkId": "case_id", "text": "Case identifier (optional)", "type": "string"}
        if case_id.max_length:
            item["maxLength"] = case_id.max_length
        items.append(item)
    items.append(encounter_item())
    for group in vocabulary.groups.values():
        fields = [_item(spec, vocabulary) for spec in group.fields.values() if spec.type in ITEM_TYPES]
        if fields:
            items.append({"linkId": group.name, "text": group.label, "type": "group", "item": fields})
    return {
        "resourceType": "Questionnaire",
        "id": ident,
        "url": questionnaire_url(vocabulary),
        "version": version,
        "name": "".join(part.capitalize() for part in ident.replace(".", "-").split("-")) or "HipkbCase",
        "title": f"hipkb case form ({vocabulary.name or ident})",
        "status": "active",
        "subjectType": ["Patient"],
        "publisher": "hipkb",
        "description": (
            "Findings about a runner with hip-region pain, as hipkb reasons about them. "
            "Leave a question unanswered when the answer is not known: unknown is never taken as no. "
            "hipkb is decision support, not a diagnosis."
        ),
        "item": items,
    }


def _item(spec: Field, vocabulary: Vocabulary) -> dict[str, Any]:
    item: dict[str, Any] = {"linkId": spec.path, "text": spec.question or spec.description or spec.path,
                            "type": ITEM_TYPES[spec.type]}
    prerequisite = ENABLE_AFTER.get(spec.path)
    if prerequisite in vocabulary.fields:
        item["enableWhen"] = [{"question": prerequisite, "operator": "exists", "answerBoolean": True}]
    if spec.required:
        item["required"] = True
    if spec.type == "set":
        item["repeats"] = True
    if spec.type in ("choice", "set"):
        options: list[dict[str, Any]] = [{"valueCoding": coding(value, meaning)}
                                         for value, meaning in spec.values.items()]
        options += [{"valueCoding": coding(value, UNKNOWN_DISPLAY.get(value, value.replace("_", " ")))}
                    for value in spec.unknown]
        if has_none_option(spec):
            options.append({"extension": [{"url": OPTION_EXCLUSIVE, "valueBoolean": True}],
                            "valueCoding": coding(NONE_OF_THESE, "none of these")})
        item["answerOption"] = options
    elif spec.is_numeric:
        kind = "valueInteger" if spec.type == "integer" else "valueDecimal"
        extensions = []
        if spec.minimum is not None:
            extensions.append({"url": MIN_VALUE, kind: _number(spec, spec.minimum)})
        if spec.maximum is not None:
            extensions.append({"url": MAX_VALUE, kind: _number(spec, spec.maximum)})
        if extensions:
            item["extension"] = extensions
    elif spec.type == "text" and spec.max_length:
        item["maxLength"] = spec.max_length
    return item


def encounter_item() -> dict[str, Any]:
    """The encounter group: who assessed the runner, when and where, and notes; never reasoned on."""
    fields = []
    for spec in ENCOUNTER_FIELDS:
        item: dict[str, Any] = {"linkId": f"{ENCOUNTER}.{spec.name}", "text": f"{spec.label}: {spec.description}",
                                "type": ENCOUNTER_TYPES[spec.kind]}
        if spec.kind != "date":
            item["maxLength"] = spec.max_length
        fields.append(item)
    return {"linkId": ENCOUNTER, "text": "The encounter (shown in reports, never reasoned on)", "type": "group",
            "item": fields}


def _number(spec: Field, value: float) -> int | float:
    # JSON has one number type; an integer bound stays integral on the page.
    return int(value) if spec.type == "integer" or float(value).is_integer() else value
