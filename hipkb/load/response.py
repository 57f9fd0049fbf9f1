"""A FHIR ``QuestionnaireResponse`` to hipkb's Questionnaire, read as the plain data of a case file.

The input layer reads a response before validation, as it reads YAML or
JSON: :func:`read_response` checks it as strictly as a case file, and every
error names the item by its ``linkId`` (``item[linkId=behaviour.hopping]:
found code 'sore'; allowed: painful, pain_free, unknown``): it must answer
this questionnaire and this version of it, each field item must sit in its
group, and each answer must have the item's type and, for a choice, a code
of hipkb's code system that the question allows. Its answers become the
plain data of a case file, which :func:`hipkb.load.case.validate` then
checks by the same code as YAML (ranges, required fields, duplicates), so the
case reasons exactly as the same case written in YAML; an error found there
names the response's item too (:meth:`Response.item`).

The case's ``meta["fhir"]`` keeps what ``--format fhir`` needs to point back
at the response (its reference and subject): :meth:`Response.meta`.
The form's names (code system, questionnaire, item types) are those the
Questionnaire is written with (:mod:`hipkb.knowledge.form`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from hipkb.errors import CaseError, allowed_list, describe, did_you_mean
from hipkb.knowledge.encounter import BY_NAME as ENCOUNTER_FIELDS
from hipkb.knowledge.encounter import GROUP as ENCOUNTER
from hipkb.knowledge.form import (
    CODE_SYSTEM,
    CODE_SYSTEM_VERSION,
    ENCOUNTER_TYPES,
    ITEM_TYPES,
    NONE_OF_THESE,
    has_none_option,
    questionnaire_canonical,
    questionnaire_url,
)
from hipkb.knowledge.vocabulary import Field, Vocabulary

RESOURCE = "QuestionnaireResponse"
# Elements of an R4 QuestionnaireResponse that say nothing about the findings.
IGNORED = ("id", "meta", "implicitRules", "language", "text", "contained", "extension", "identifier",
           "basedOn", "partOf", "subject", "encounter", "authored", "author", "source")
STATUSES = ("in-progress", "completed", "amended")
ITEM_KEYS = ("linkId", "definition", "text", "answer", "item", "id", "extension")
ANSWER_KEYS = ("id", "extension")
# The elements of an R4 Coding; a modifierExtension (which a Coding cannot
# carry) or any other key is refused, as it is everywhere else in a response.
CODING_KEYS = ("system", "version", "code", "display", "userSelected", "id", "extension")
VALUE_KEY = {"choice": "valueCoding", "integer": "valueInteger", "decimal": "valueDecimal", "string": "valueString",
             "text": "valueString", "date": "valueDate"}
FHIR_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")


def is_response(data: Any) -> bool:
    """Whether parsed data is a FHIR resource (it has ``resourceType``) rather than a case file."""
    return isinstance(data, dict) and "resourceType" in data


@dataclass(frozen=True)
class Response:
    """A response read as the data of a case file, and what the case keeps of the response itself."""

    #: The plain data of a case file (``case_id`` when the response names one).
    data: dict[str, Any]
    #: The response's ``id`` and ``subject`` as found; checked by :meth:`meta`.
    ident: Any
    subject: Any

    @property
    def case_id(self) -> str | None:
        """The case id the response gives: its ``case_id`` item, else its ``id``; None for neither."""
        given = self.data.get("case_id")
        if given is not None:
            return given
        return self.ident if isinstance(self.ident, str) and self.ident.strip() else None

    def item(self, where: str, vocabulary: Vocabulary) -> str:
        """A case-file field path as the response names it: ``item[linkId=pain.regions]``."""
        path, bracket, rest = where.partition("[")
        if path in vocabulary.fields or path == "case_id" or path.startswith(f"{ENCOUNTER}."):
            return f"item[linkId={path}]" + (f".answer[{rest}" if bracket else "")
        if path in vocabulary.groups or path == ENCOUNTER:
            return f"item[linkId={path}]"
        return where

    def meta(self, source: str) -> dict[str, Any]:
        """What the case keeps of the response (``{"fhir": {"response", "subject"}}``), its id and subject checked."""
        ident = self.ident
        if ident is not None and not (isinstance(ident, str) and FHIR_ID.match(ident)):
            raise CaseError(source, "id", f"found {describe(ident)}; a FHIR id is 1 to 64 of A-Z, a-z, 0-9, '-', '.'")
        # The subject goes into the Bundle as it is: only a plain Reference may.
        subject = _reference(self.subject, source, "subject")
        return {"fhir": {"response": f"{RESOURCE}/{ident}" if ident else None, "subject": subject}}


def read_response(data: dict[str, Any], vocabulary: Vocabulary, source: str) -> Response:
    """Check a parsed QuestionnaireResponse and read its answers as the data of a case file."""
    kind = data.get("resourceType")
    if kind != RESOURCE:
        raise CaseError(source, "resourceType",
                        f"found {describe(kind)}; a FHIR case must be a {RESOURCE} to hipkb's questionnaire")
    for key in data:
        if key not in (*IGNORED, "resourceType", "questionnaire", "status", "item"):
            hint = ("; hipkb cannot honour a modifier extension" if key == "modifierExtension"
                    else "; allowed: " + allowed_list(("questionnaire", "status", "item", *IGNORED), 20))
            raise CaseError(source, str(key), "not an element hipkb reads in a QuestionnaireResponse" + hint)
    _check_questionnaire(data.get("questionnaire"), vocabulary, source)
    status = data.get("status")
    if status not in STATUSES:
        raise CaseError(source, "status", f"found {describe(status)}; allowed: {allowed_list(STATUSES)}")
    case_data, case_id = _answers(data.get("item"), vocabulary, source)
    if case_id is not None:
        case_data["case_id"] = case_id
    return Response(case_data, data.get("id"), data.get("subject"))


def _check_questionnaire(found: Any, vocabulary: Vocabulary, source: str) -> None:
    expected = questionnaire_canonical(vocabulary)
    if found is None:
        raise CaseError(source, "questionnaire", f"missing; a response to hipkb's questionnaire says {expected!r}")
    if not isinstance(found, str):
        raise CaseError(source, "questionnaire", f"found {describe(found)}; expected {expected!r}")
    url, _, version = found.partition("|")
    if url != questionnaire_url(vocabulary):
        raise CaseError(source, "questionnaire", f"found {found!r}: a response to another questionnaire; "
                        f"expected {expected!r} (hipkb questionnaire prints it)")
    if found != expected:
        raise CaseError(source, "questionnaire", f"found {found!r}: a response to "
                        + (f"version {version!r}" if version else "no stated version")
                        + f" of hipkb's questionnaire; this hipkb reads {expected!r}")


def _answers(items: Any, vocabulary: Vocabulary, source: str) -> tuple[dict[str, Any], str | None]:
    """The response's answers as case-file data, and its case id if it gives one."""
    groups = vocabulary.groups
    data: dict[str, Any] = {}
    case_id: str | None = None
    seen: set[str] = set()
    for item in _items(items, source, "item"):
        link = _link(item, source, "item", seen)
        where = f"item[linkId={link}]"
        if link == "case_id" and "case_id" in vocabulary.top:
            answers = _leaf(item, source, where, repeats=False)
            if answers:
                case_id = _value(answers[0], "string", None, source, where)
            continue
        if link == ENCOUNTER:
            data[ENCOUNTER] = _encounter(item, source, where, seen)
            continue
        if link in vocabulary.fields:
            raise CaseError(source, where, f"a field item belongs inside its group; nest it in the item "
                            f"with linkId {link.partition('.')[0]!r}")
        if link not in groups:
            allowed = ["case_id", ENCOUNTER, *groups]
            raise CaseError(source, where, f"unknown group; allowed: {allowed_list(allowed)}"
                            + did_you_mean(link, allowed))
        if "answer" in item:
            raise CaseError(source, where, "a group item holds items, not answers")
        values: dict[str, Any] = {}
        for child in _items(item.get("item"), source, f"{where}.item"):
            child_link = _link(child, source, f"{where}.item", seen)
            child_where = f"item[linkId={child_link}]"
            spec = groups[link].fields.get(child_link.partition(".")[2]) if child_link.startswith(f"{link}.") else None
            if spec is None or spec.type not in ITEM_TYPES:
                owner = vocabulary.fields.get(child_link)
                if owner is not None:
                    raise CaseError(source, child_where, f"belongs in group {owner.group!r}, not in {link!r}")
                allowed = [f.path for f in groups[link].fields.values() if f.type in ITEM_TYPES]
                raise CaseError(source, child_where, f"unknown item in group {link!r}; allowed: "
                                f"{allowed_list(allowed)}" + did_you_mean(child_link, allowed))
            answers = _leaf(child, source, child_where, repeats=spec.type == "set")
            if not answers:
                continue  # unanswered: unknown, as an omitted field
            found = [_value(a, ITEM_TYPES[spec.type], spec, source, child_where) for a in answers]
            if has_none_option(spec) and NONE_OF_THESE in found:
                if len(found) > 1:
                    raise CaseError(source, child_where, f"{NONE_OF_THESE!r} excludes every other answer")
                found = []  # none of them: a known empty list, not unknown
            values[spec.name] = found if spec.type == "set" else found[0]
        data[link] = values
    return data, case_id


def _encounter(item: dict[str, Any], source: str, where: str, seen: set[str]) -> dict[str, Any]:
    """The encounter group's answers as case-file data (checked by :func:`hipkb.load.case.validate`)."""
    if "answer" in item:
        raise CaseError(source, where, "a group item holds items, not answers")
    values: dict[str, Any] = {}
    for child in _items(item.get("item"), source, f"{where}.item"):
        link = _link(child, source, f"{where}.item", seen)
        child_where = f"item[linkId={link}]"
        group, _, name = link.partition(".")
        spec = ENCOUNTER_FIELDS.get(name) if group == ENCOUNTER else None
        if spec is None:
            allowed = [f"{ENCOUNTER}.{n}" for n in ENCOUNTER_FIELDS]
            raise CaseError(source, child_where, f"unknown item in group {ENCOUNTER!r}; allowed: "
                            f"{allowed_list(allowed)}" + did_you_mean(link, allowed))
        answers = _leaf(child, source, child_where, repeats=False)
        if answers:
            values[name] = _value(answers[0], ENCOUNTER_TYPES[spec.kind], None, source, child_where)
    return values


def _items(items: Any, source: str, where: str) -> list[dict[str, Any]]:
    if items is None:
        return []
    if not isinstance(items, list):
        raise CaseError(source, where, f"found {describe(items)}; expected a list of items")
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise CaseError(source, f"{where}[{index}]", f"found {describe(item)}; expected an item")
    return items


def _link(item: dict[str, Any], source: str, where: str, seen: set[str]) -> str:
    link = item.get("linkId")
    if not isinstance(link, str) or not link:
        raise CaseError(source, where, f"an item without a linkId (found {describe(link)})")
    where = f"item[linkId={link}]"
    for key in item:
        if key not in ITEM_KEYS:
            raise CaseError(source, f"{where}.{key}", f"not read by hipkb; allowed: {allowed_list(ITEM_KEYS)}")
    if link in seen:
        raise CaseError(source, where, "answered twice; each item appears once")
    seen.add(link)
    return link


def _leaf(item: dict[str, Any], source: str, where: str, *, repeats: bool) -> list[dict[str, Any]]:
    if "item" in item:
        raise CaseError(source, where, "a question item holds answers, not items")
    answers = item.get("answer")
    if answers is None:
        answers = []  # unanswered: unknown, as an omitted field
    if not isinstance(answers, list):
        # Not "or []": an answer of {}, false, "" or 0 is a malformed answer,
        # never an unanswered question.
        raise CaseError(source, f"{where}.answer", f"found {describe(answers)}; expected a list of answers")
    if len(answers) > 1 and not repeats:
        raise CaseError(source, where, f"{len(answers)} answers; this question takes one")
    for answer in answers:
        if not isinstance(answer, dict):
            raise CaseError(source, f"{where}.answer", f"found {describe(answer)}; expected an answer")
        if "item" in answer:
            raise CaseError(source, f"{where}.answer", "nested items under an answer are not part of this form")
    return answers


def _value(answer: dict[str, Any], item_type: str, spec: Field | None, source: str, where: str) -> Any:
    expected = VALUE_KEY[item_type]
    values = [key for key in answer if key.startswith("value")]
    others = [key for key in answer if not key.startswith("value") and key not in ANSWER_KEYS]
    if others:
        raise CaseError(source, f"{where}.answer", f"{others[0]!r} is not part of an answer")
    if values != [expected]:
        found = ", ".join(values) if values else "no value"
        article = "an" if item_type[0] in "aeiou" else "a"
        raise CaseError(source, where, f"found {found}; expected {expected} ({article} {item_type} question)")
    value = answer[expected]
    if item_type != "choice":
        ok = {"integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
              "decimal": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
              "string": lambda v: isinstance(v, str), "text": lambda v: isinstance(v, str),
              "date": lambda v: isinstance(v, str)}[item_type]
        if not ok(value):
            raise CaseError(source, where, f"found {describe(value)} in {expected}")
        return value
    assert spec is not None
    if not isinstance(value, dict):
        raise CaseError(source, where, f"found {describe(value)} in valueCoding; expected a coding")
    for key in value:
        if key not in CODING_KEYS:
            hint = ("; hipkb cannot honour a modifier extension" if key == "modifierExtension"
                    else f"; allowed: {allowed_list(CODING_KEYS)}")
            raise CaseError(source, f"{where}.answer", f"valueCoding.{key}: not part of a coding" + hint)
    if value.get("system") != CODE_SYSTEM:
        raise CaseError(source, where, f"found a code of {describe(value.get('system'))}; "
                        f"expected hipkb's code system {CODE_SYSTEM}")
    version = value.get("version")
    if version is not None and version != CODE_SYSTEM_VERSION:
        raise CaseError(source, where, f"found code system version {describe(version)}; "
                        f"this hipkb reads version {CODE_SYSTEM_VERSION}")
    code = value.get("code")
    allowed = [*spec.values, *spec.unknown, *([NONE_OF_THESE] if has_none_option(spec) else [])]
    if not isinstance(code, str) or code not in allowed:
        raise CaseError(source, where, f"found code {describe(code)}; allowed: {allowed_list(allowed)}"
                        + did_you_mean(code, allowed))
    return code


def _reference(value: Any, source: str, where: str) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, dict) or not value:
        raise CaseError(source, where, f"found {describe(value)}; expected a Reference")
    for key, item in value.items():
        if key in ("reference", "type", "display"):
            if not isinstance(item, str) or not item.strip():
                raise CaseError(source, f"{where}.{key}", f"found {describe(item)}; expected text")
        elif key == "identifier":
            if not isinstance(item, dict) or not item or set(item) - {"system", "value"} or not all(
                    isinstance(v, str) and v.strip() for v in item.values()):
                raise CaseError(source, f"{where}.identifier", "expected a mapping of system and value (text)")
        else:
            raise CaseError(source, f"{where}.{key}", "not read by hipkb; a subject is a Reference of "
                            "reference, type, identifier (system, value) and display")
    return dict(value)


__all__ = ["Response", "is_response", "read_response"]
