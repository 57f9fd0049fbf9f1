"""``hipkb schema``: a valid draft 2020-12 JSON Schema that agrees with the loader."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from jsonschema import Draft202012Validator
from paths import ROOT

from hipkb.errors import CaseError
from hipkb.load.case import validate
from hipkb.parse.text import load_file
from hipkb.testing import strategies as hs

EXAMPLES = sorted((ROOT / "facts" / "cases").glob("*.yaml")) + sorted((ROOT / "facts" / "cases").glob("*.json"))


@pytest.fixture(scope="module")
def schema(cli_module):
    result = cli_module("schema")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def validator(schema):
    return Draft202012Validator(schema)


@pytest.fixture(scope="module")
def cli_module():
    from click.testing import CliRunner

    from hipkb.cli import main

    runner = CliRunner()
    return lambda *args: runner.invoke(main, [str(a) for a in args], catch_exceptions=False)


def test_schema_is_a_valid_draft_2020_12_schema(schema):
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(schema)
    assert schema["type"] == "object" and schema["additionalProperties"] is False
    assert "pain" in schema["required"]


def test_schema_covers_every_group_field_and_value(schema, kb):
    props = schema["properties"]
    for gname, group in kb.vocabulary.groups.items():
        gprops = props[gname]["properties"]
        assert set(gprops) == set(group.fields)
        for fname, spec in group.fields.items():
            if spec.type == "choice":
                assert set(spec.values) | set(spec.unknown) <= set(gprops[fname]["enum"])
            elif spec.type == "set":
                assert set(gprops[fname]["items"]["enum"]) == set(spec.values)


def test_schema_output_is_deterministic(cli_module):
    assert cli_module("schema").stdout == cli_module("schema").stdout


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_schema_accepts_every_example_case(validator, path):
    data = load_file(path)
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(data)]
    assert not errors, errors


def test_examples_include_expect_blocks():
    assert any("expect" in load_file(p) for p in EXAMPLES)


MALFORMED = [
    {"pain": {"regions": []}},
    {"pain": {"regions": ["groin", "groin"]}},
    {"pain": {"regions": ["groin"]}, "runnr": {}},
    {"pain": {"regions": ["groin"], "severty": 3}},
    {"pain": {"regions": ["groin"]}, "history": {"onset": "gradul"}},
    {"pain": {"regions": ["groin"]}, "runner": {"age": "thirty"}},
    {"pain": {"regions": ["groin"]}, "runner": {"age": 300}},
    {"pain": {"regions": ["groin"]}, "runner": {"age": 29.5}},
    {"pain": {"regions": ["groin"]}, "behaviour": {"walking": True}},
    {"pain": {"regions": ["groin"]}, "format": "hipkb-case/2"},
    {"pain": {"regions": ["groin"]}, "case_id": "   "},
    {"pain": {"regions": ["groin"]}, "expect": {"top": ["no_such_hypothesis"]}},
    {"pain": {"regions": ["groin"]}, "expect": {"topp": []}},
    {"pain": {"regions": ["groin"]}, "expect": {"triage_at_least": "soon"}},
    {"pain": {"depth": "deep"}},
    {"runner": {"age": 30}},
    [{"pain": {"regions": ["groin"]}}],
    "pain",
    None,
]


@pytest.mark.parametrize("data", MALFORMED, ids=[json.dumps(m)[:60] for m in MALFORMED])
def test_schema_rejects_what_the_loader_rejects(validator, kb, data):
    assert not validator.is_valid(data)
    with pytest.raises(CaseError):
        validate(data, kb.vocabulary, "x", hypotheses=kb.hypotheses)


_SETTINGS = settings(deadline=None, max_examples=200, suppress_health_check=[HealthCheck.too_slow])


@_SETTINGS
@given(case=hs.cases(with_expect=True))
def test_schema_accepts_every_drawn_case(validator, case):
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(case)]
    assert not errors, errors


@_SETTINGS
@given(drawn=hs.corrupted_cases())
def test_schema_rejects_every_corrupted_case(validator, drawn):
    case, path = drawn
    assert not validator.is_valid(case), path
