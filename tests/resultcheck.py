"""The result format (``hipkb-result/1``) as a JSON Schema, and the checks a schema cannot say.

Tests import :func:`check_result`; the schema is written from
``shared/spec/result-format.md`` by hand, not generated from the code it
checks, so that a change of the code cannot silently change the contract.
"""

from __future__ import annotations

from typing import Any

from jsonschema import Draft202012Validator

TRIAGE = ["emergency", "urgent", "routine", "self_care"]
RUNNING = ["stop", "reduce", "continue_as_tolerated"]
BANDS = ["likely", "possible", "unlikely"]
LIKELY, POSSIBLE = 0.6, 0.3

_ids = {"type": "array", "items": {"type": "string", "minLength": 1}}
_evidence = {
    "type": "object",
    "required": ["rule", "weight", "facts", "source"],
    "properties": {
        "rule": {"type": "string", "minLength": 1},
        "weight": {"type": "number", "exclusiveMinimum": 0, "maximum": 1},
        "facts": {"type": "array", "items": {"type": "string", "pattern": "="}},
        "source": {"type": "string", "minLength": 1},
    },
}

RESULT_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "hipkb-result/1",
    "type": "object",
    "required": ["format", "case_id", "kb", "triage", "running", "red_flags", "hypotheses",
                 "next_questions", "fired", "warnings"],
    "properties": {
        "format": {"const": "hipkb-result/1"},
        "case_id": {"type": "string", "minLength": 1},
        "kb": {
            "type": "object",
            "required": ["name", "version", "rules"],
            "properties": {
                "name": {"type": "string", "minLength": 1},
                "version": {"type": "string"},
                "rules": {"type": "integer", "minimum": 1},
            },
        },
        "triage": {
            "type": "object",
            "required": ["level", "summary", "because"],
            "properties": {
                "level": {"enum": TRIAGE},
                "summary": {"type": "string", "minLength": 1},
                "because": _ids,
            },
        },
        "running": {
            "type": "object",
            "required": ["advice", "because"],
            "properties": {"advice": {"enum": RUNNING}, "because": _ids},
        },
        "red_flags": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["id", "because", "facts"],
                "properties": {
                    "id": {"type": "string", "pattern": "^[a-z][a-z0-9_]*$"},
                    "because": {**_ids, "minItems": 1},
                    "facts": {"type": "array", "items": {"type": "string"}},
                },
            },
        },
        "hypotheses": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["id", "label", "certainty", "band", "support", "against"],
                "properties": {
                    "id": {"type": "string"},
                    "label": {"type": "string", "minLength": 1},
                    "certainty": {"type": "number", "exclusiveMinimum": 0, "maximum": 1},
                    "band": {"enum": BANDS},
                    "support": {"type": "array", "items": _evidence, "minItems": 1},
                    "against": {"type": "array", "items": _evidence},
                },
            },
        },
        "next_questions": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["fact", "question", "why"],
                "properties": {
                    "fact": {"type": "string", "pattern": r"^[a-z_]+\.[a-z_0-9]+$"},
                    "question": {"type": "string", "minLength": 1},
                    "why": {"type": "string", "minLength": 1},
                },
            },
        },
        "fired": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["step", "rule", "asserted"],
                "properties": {
                    "step": {"type": "integer", "minimum": 1},
                    "rule": {"type": "string", "minLength": 1},
                    "asserted": {"type": "string", "minLength": 1},
                },
            },
        },
        "warnings": {"type": "array", "items": {"type": "string"}},
    },
}

Draft202012Validator.check_schema(RESULT_SCHEMA)
_VALIDATOR = Draft202012Validator(RESULT_SCHEMA)


def expected_band(certainty: float) -> str:
    return "likely" if certainty >= LIKELY else "possible" if certainty >= POSSIBLE else "unlikely"


def check_result(result: dict[str, Any], kb: Any) -> None:
    """Assert *result* is a valid hipkb-result/1 object of knowledge base *kb*."""
    errors = sorted(_VALIDATOR.iter_errors(result), key=lambda e: list(e.absolute_path))
    assert not errors, "; ".join(f"{list(e.absolute_path)}: {e.message}" for e in errors[:5])
    rule_ids = {rule.id for rule in kb.rules}
    hyps = result["hypotheses"]
    for h in hyps:
        assert h["id"] in kb.hypotheses, h["id"]
        assert h["band"] == expected_band(h["certainty"]), (h["id"], h["certainty"], h["band"])
        for item in h["support"] + h["against"]:
            assert item["rule"] in rule_ids, item["rule"]
    # Highest certainty first, ties broken by id: the order is deterministic.
    keys = [(-h["certainty"], h["id"]) for h in hyps]
    assert keys == sorted(keys), keys
    assert len({h["id"] for h in hyps}) == len(hyps)
    for flag in result["red_flags"]:
        assert flag["id"] in kb.red_flags, flag["id"]
        assert set(flag["because"]) <= rule_ids
    assert set(result["triage"]["because"]) <= rule_ids
    assert set(result["running"]["because"]) <= rule_ids
    asked = [q["fact"] for q in result["next_questions"]]
    assert len(asked) == len(set(asked)), asked
    for fact in asked:
        assert fact in kb.vocabulary.fields, fact
    steps = [f["step"] for f in result["fired"]]
    assert steps == list(range(1, len(steps) + 1)), steps
    for firing in result["fired"]:
        # The shell's own steps (combining certainties, deciding) are named SHELL-*.
        assert firing["rule"] in rule_ids or firing["rule"].startswith("SHELL-"), firing["rule"]
