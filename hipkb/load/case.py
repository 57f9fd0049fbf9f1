"""Load and validate case files (``hipkb-case/1``) against the vocabulary.

Validation is strict and total: every group, field and value is checked, and
the first problem becomes a :class:`CaseError` naming the file, the field path,
what was found and what is allowed. A valid case is normalised: unknown values
are dropped (omitted means unknown), booleans become ``yes``/``no``, lists
become tuples in vocabulary order, so that the same case always gives the same
facts whatever the order it was written in.
"""

from __future__ import annotations

import dataclasses
import math
import re
import sys
from collections.abc import Collection
from pathlib import Path
from typing import Any

from hipkb.errors import CaseError, HipkbError, allowed_list, describe, did_you_mean
from hipkb.knowledge.case import CASE_FORMAT, Case, Value
from hipkb.knowledge.encounter import GROUP as ENCOUNTER
from hipkb.knowledge.encounter import validate_encounter
from hipkb.knowledge.scales import RUNNING_ADVICE, TRIAGE_LEVELS
from hipkb.knowledge.vocabulary import Field, Vocabulary
from hipkb.load.response import is_response, read_response
from hipkb.parse.bounds import MAX_BYTES
from hipkb.parse.reading import decode, read_text
from hipkb.parse.text import parse_text

EXPECT_KEYS = ("top", "in_top3", "includes", "excludes", "triage_at_least", "triage_at_most", "running", "running_in",
               "red_flags", "no_hop", "known_miss")


def validate(
    data: Any,
    vocabulary: Vocabulary,
    source: str,
    *,
    default_id: str = "case",
    hypotheses: Collection[str] | None = None,
) -> Case:
    """Check plain data against the vocabulary and return a normalised Case.

    *data* is a case file's mapping, or a FHIR ``QuestionnaireResponse``
    (recognised by its ``resourceType``), read first as the same data
    (:mod:`hipkb.load.response`): an error in it names the response's item.
    """
    if is_response(data):
        response = read_response(data, vocabulary, source)
        case_id = response.case_id
        plain = {**response.data, "case_id": default_case_id(default_id, vocabulary) if case_id is None else case_id}
        try:
            case = _validate(plain, vocabulary, source, default_id, hypotheses)
        except CaseError as error:
            raise CaseError(source, response.item(error.where, vocabulary), error.message) from None
        return dataclasses.replace(case, meta=response.meta(source))
    return _validate(data, vocabulary, source, default_id, hypotheses)


def _validate(data: Any, vocabulary: Vocabulary, source: str, default_id: str,
              hypotheses: Collection[str] | None) -> Case:
    if not isinstance(data, dict):
        raise CaseError(source, "", f"expected a mapping at the top, found {describe(data)}")
    known_top = [*vocabulary.top, ENCOUNTER, *vocabulary.groups]
    for key in data:
        if not isinstance(key, str) or key not in known_top:
            raise CaseError(
                source,
                str(key),
                f"unknown group; allowed: {allowed_list(known_top)}"
                + did_you_mean(key, known_top),
            )
    fmt = data.get("format")
    if fmt is not None and fmt != CASE_FORMAT:
        raise CaseError(source, "format", f"found {describe(fmt)}; allowed: hipkb-case/1")
    if "case_id" in data:
        case_id = data["case_id"]
        if not isinstance(case_id, str) or not case_id.strip():
            raise CaseError(source, "case_id", f"found {describe(case_id)}; expected a non-empty string")
        limit = _id_limit(vocabulary)
        if limit and len(case_id) > limit:
            raise CaseError(source, "case_id", f"longer than {limit} characters")
    else:
        case_id = default_case_id(default_id, vocabulary)

    findings: dict[str, dict[str, Value]] = {}
    for gname, group in vocabulary.groups.items():
        raw = data.get(gname)
        if raw is None:
            raw = {}
        if not isinstance(raw, dict):
            raise CaseError(source, gname, f"expected a mapping, found {describe(raw)}")
        for key in raw:
            if not isinstance(key, str) or key not in group.fields:
                raise CaseError(
                    source,
                    f"{gname}.{key}",
                    f"unknown field; allowed: {allowed_list(group.fields)}"
                    + did_you_mean(key, group.fields),
                )
        values: dict[str, Value] = {}
        for fname, spec in group.fields.items():
            if fname not in raw:
                if spec.required:
                    raise CaseError(source, spec.path, "is required" + _required_hint(spec))
                continue
            value = _value(spec, raw[fname], source)
            if value is not None:
                values[fname] = value
        findings[gname] = values

    expect = _expect(data.get("expect"), source, hypotheses)
    encounter = validate_encounter(data.get(ENCOUNTER), source)
    return Case(case_id.strip(), findings, expect, source, encounter=encounter)


def _value(spec: Field, raw: Any, source: str) -> Value | None:
    # spec.path is made anew on each read: read only for an error.
    if spec.type == "choice":
        if isinstance(raw, bool) and raw in spec.boolean_values:
            return "yes" if raw else "no"
        if isinstance(raw, bool):  # YAML 1.1 read a bare yes or no: say it as written
            raise CaseError(
                source, spec.path,
                f"found {'yes' if raw else 'no'}; allowed: {allowed_list([*spec.values, *spec.unknown])}",
            )
        if not isinstance(raw, str):
            raise CaseError(
                source, spec.path,
                f"found {describe(raw)}; allowed: {allowed_list([*spec.values, *spec.unknown])}",
            )
        if raw in spec.unknown:
            return None
        if raw not in spec.values:
            allowed = [*spec.values, *spec.unknown]
            raise CaseError(
                source, spec.path,
                f"found {describe(raw)}; allowed: {allowed_list(allowed)}"
                + did_you_mean(raw, allowed),
            )
        return raw
    if spec.is_numeric:
        if isinstance(raw, bool) or not isinstance(raw, (int, float)):
            raise CaseError(source, spec.path, f"found {describe(raw)}; expected {_a(spec.type)}")
        if spec.type == "integer" and not (isinstance(raw, int) or float(raw).is_integer()):
            raise CaseError(source, spec.path, f"found {describe(raw)}; expected a whole number")
        if not math.isfinite(raw):
            raise CaseError(source, spec.path, f"found {describe(raw)}; expected a finite number")
        if (spec.minimum is not None and raw < spec.minimum) or (
            spec.maximum is not None and raw > spec.maximum
        ):
            raise CaseError(source, spec.path, f"found {describe(raw)}; allowed: {_range(spec)}")
        return int(raw) if spec.type == "integer" else canonical_number(raw)
    if spec.type == "set":
        # A tuple only comes from Python callers (api.run_data); files hold lists.
        if not isinstance(raw, list | tuple):
            raise CaseError(
                source, spec.path,
                f"found {describe(raw)}; expected a list of: {allowed_list(spec.values)}",
            )
        if len(raw) < spec.min_items:
            raise CaseError(
                source, spec.path,
                f"found an empty list; give at least {spec.min_items} of: {allowed_list(spec.values)}",
            )
        seen: set[str] = set()
        for index, item in enumerate(raw):
            if not isinstance(item, str) or item not in spec.values:
                raise CaseError(
                    source, f"{spec.path}[{index}]",
                    f"found {describe(item)}; allowed: {allowed_list(spec.values)}"
                    + did_you_mean(item, spec.values),
                )
            if item in seen:
                raise CaseError(source, f"{spec.path}[{index}]", f"{item!r} is listed twice")
            seen.add(item)
        return tuple(v for v in spec.values if v in seen)
    if spec.type == "text":
        if not isinstance(raw, str):
            raise CaseError(source, spec.path, f"found {describe(raw)}; expected text")
        return raw
    raise CaseError(source, spec.path, f"field type {spec.type} cannot hold a value")


def _id_limit(vocabulary: Vocabulary) -> int:
    return vocabulary.top["case_id"].max_length if "case_id" in vocabulary.top else 200


def default_case_id(default_id: str, vocabulary: Vocabulary) -> str:
    """The case id of a case that gives none: *default_id* (a file name's stem), shortened to fit.

    A file may be named longer than a case id may be (a legal 240-character
    name): the id keeps the name's start and ends with a digest of the whole
    name, so two long names that differ only at the end still give two ids.
    """
    limit = _id_limit(vocabulary)
    if not default_id.strip():
        return "case"
    if not limit or len(default_id) <= limit:
        return default_id
    from hipkb.knowledge.cache import blake2b

    tail = blake2b(default_id.encode("utf-8", "surrogatepass"), digest_size=4).hexdigest()
    return default_id[: max(limit - len(tail) - 1, 1)] + "-" + tail


# Whole numbers up to this size are exact as floats: 4.0 is written 4 below it.
_EXACT = 2**53


def canonical_number(value: int | float) -> int | float:
    """One form per number: ``4``, ``4.0`` and a FHIR ``valueDecimal`` of 4.0 are all the integer 4.

    A finding is written into results (``pain.severity=4``) and reports as its
    value is printed: without one form, the same finding written two ways
    would give two outputs. A whole number too large for a float to hold
    exactly, and every fraction, is a float.
    """
    if isinstance(value, int):
        return value if -_EXACT <= value <= _EXACT else float(value)
    if value.is_integer() and -_EXACT <= value <= _EXACT:
        return int(value)
    return value


def _required_hint(spec: Field) -> str:
    if spec.type == "set":
        return f"; give at least {max(spec.min_items, 1)} of: {allowed_list(spec.values)}"
    if spec.type == "choice":
        return f"; allowed: {allowed_list(spec.values)}"
    return ""


def _a(noun: str) -> str:
    """``an integer``, ``a number``: messages are read by people."""
    return f"an {noun}" if noun[:1] in "aeiou" else f"a {noun}"


def _range(spec: Field) -> str:
    if spec.maximum is None:
        return f"{_a(spec.type)} >= {spec.minimum:g}"
    if spec.minimum is None:
        return f"{_a(spec.type)} <= {spec.maximum:g}"
    return f"{_a(spec.type)} from {spec.minimum:g} to {spec.maximum:g}"


def _expect(raw: Any, source: str, hypotheses: Collection[str] | None) -> dict[str, Any] | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise CaseError(source, "expect", f"expected a mapping, found {describe(raw)}")
    result: dict[str, Any] = {}
    for key, value in raw.items():
        where = f"expect.{key}"
        if key in ("top", "in_top3", "includes", "excludes"):
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise CaseError(source, where, f"found {describe(value)}; expected a list of hypothesis ids")
            for index, item in enumerate(value):
                if hypotheses is not None and item not in hypotheses:
                    raise CaseError(
                        source, f"{where}[{index}]",
                        f"found {describe(item)}; allowed: {allowed_list(sorted(hypotheses))}"
                        + did_you_mean(item, hypotheses),
                    )
            result[key] = tuple(value)
        elif key in ("triage_at_least", "triage_at_most", "running"):
            allowed = RUNNING_ADVICE if key == "running" else TRIAGE_LEVELS
            if value not in allowed:
                raise CaseError(
                    source, where,
                    f"found {describe(value)}; allowed: {allowed_list(allowed)}"
                    + did_you_mean(value, allowed),
                )
            result[key] = value
        elif key == "running_in":
            if not isinstance(value, list) or not value or any(v not in RUNNING_ADVICE for v in value):
                raise CaseError(source, where, f"found {describe(value)}; expected a list of: "
                                + allowed_list(RUNNING_ADVICE))
            result[key] = tuple(value)
        elif key == "red_flags":
            if not isinstance(value, list) or not all(isinstance(v, str) and re.fullmatch(r"[a-z][a-z0-9_]*", v)
                                                      for v in value):
                raise CaseError(source, where, f"found {describe(value)}; expected a list of red flag ids")
            result[key] = tuple(value)
        elif key == "known_miss":
            if not isinstance(value, str) or not value.strip():
                raise CaseError(source, where, f"found {describe(value)}; expected a text saying why the knowledge "
                                "base answers otherwise")
            result[key] = " ".join(value.split())
        elif key == "no_hop":
            if value not in (True, False):
                raise CaseError(source, where, f"found {describe(value)}; expected true or false")
            result[key] = value
        else:
            raise CaseError(
                source, where,
                f"unknown key; allowed: {allowed_list(EXPECT_KEYS)}" + did_you_mean(key, EXPECT_KEYS),
            )
    return result


def load_case(
    path: str | Path,
    vocabulary: Vocabulary,
    *,
    hypotheses: Collection[str] | None = None,
) -> Case:
    """Load one case file, or standard input for ``-``.

    Every failure, reading and parsing included, is a :class:`CaseError`, so
    that a caller can tell a bad case from a bad knowledge base.
    """
    try:
        if str(path) == "-":
            # Read one byte past the limit, never all of an endless stream.
            text = decode(sys.stdin.buffer.read(MAX_BYTES + 1), "<stdin>")
            data = parse_text(text, "<stdin>")
            return validate(data, vocabulary, "<stdin>", default_id="stdin", hypotheses=hypotheses)
        path = Path(path)
        kind = "json" if path.suffix.lower() == ".json" else "yaml"
        data = parse_text(read_text(path), str(path), kind=kind)
    except CaseError:
        raise
    except HipkbError as exc:
        raise CaseError(exc.source, exc.where, exc.message) from None
    return validate(data, vocabulary, str(path), default_id=path.stem, hypotheses=hypotheses)
