"""Loading case files: every malformed input is refused in one line, naming file and field.

Each malformed-input class of the shell issue is checked through the library
(:func:`hipkb.api.load_case`) and through the CLI (``validate`` and ``run``):
exit status 2, one line on stderr naming the file and the field path, what was
found and what is allowed, no traceback, no output file.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from paths import ROOT

from hipkb import api
from hipkb.errors import CaseError, HipkbError
from hipkb.load.case import validate
from hipkb.parse.bounds import MAX_BYTES, MAX_DEPTH
from hipkb.testing import strategies as hs

GROIN = "pain:\n  regions: [groin]\n"

# name, file content, then strings the one-line error must contain: the field
# path (or line), what was found, what is allowed.
MALFORMED: list[tuple[str, bytes, tuple[str, ...]]] = [
    ("unknown-group.yaml", b"pain: {regions: [groin]}\nrunnr: {age: 30}\n",
     ("runnr", "unknown group", "allowed:", "runner", "did you mean 'runner'")),
    ("unknown-field.yaml", b"pain:\n  regions: [groin]\n  severty: 3\n",
     ("pain.severty", "unknown field", "severity", "did you mean 'severity'")),
    ("unknown-value.yaml", (GROIN + "history:\n  onset: gradul\n").encode(),
     ("history.onset", "found 'gradul'", "allowed: gradual, sudden, gradual_then_sudden, unknown",
      "did you mean 'gradual'")),
    ("unknown-region.yaml", b"pain:\n  regions: [groin, buttocks]\n",
     ("pain.regions[1]", "found 'buttocks'", "lateral_hip", "did you mean 'buttock'")),
    ("unknown-exam-value.yaml", (GROIN + "exam:\n  fulcrum: unknown\n").encode(),
     ("exam.fulcrum", "found 'unknown'", "not_tested")),
    ("wrong-type-number.yaml", (GROIN + "runner:\n  age: thirty\n").encode(),
     ("runner.age", "found 'thirty'", "expected an integer")),
    ("wrong-type-choice.yaml", (GROIN + "runner:\n  sex: 3\n").encode(),
     ("runner.sex", "found 3", "allowed: female, male, other, unknown")),
    ("wrong-type-set.yaml", b"pain:\n  regions: groin\n",
     ("pain.regions", "found 'groin'", "expected a list of", "groin")),
    ("wrong-type-group.yaml", (GROIN + "runner: 30\n").encode(),
     ("runner", "found 30", "expected a mapping")),
    ("boolean-not-allowed.yaml", (GROIN + "behaviour:\n  walking: yes\n").encode(),
     ("behaviour.walking", "found yes", "painful, pain_free")),
    ("fraction-age.yaml", (GROIN + "runner:\n  age: 29.5\n").encode(),
     ("runner.age", "found 29.5", "whole number")),
    ("out-of-range-high.yaml", (GROIN + "runner:\n  age: 300\n").encode(),
     ("runner.age", "found 300", "an integer from 10 to 100")),
    ("out-of-range-low.yaml", (GROIN + "pain:\n  severity: -1\n").replace("pain:\n  regions", "x").encode(),
     ()),  # replaced below: keeps the table readable
    ("empty-regions.yaml", b"pain:\n  regions: []\n",
     ("pain.regions", "empty list", "at least 1 of", "groin")),
    ("missing-regions.yaml", b"pain:\n  depth: deep\n",
     ("pain.regions", "required", "at least 1 of: groin")),
    ("no-pain-group.yaml", b"runner: {age: 30}\n",
     ("pain.regions", "required", "at least 1 of: groin")),
    ("duplicate-item.yaml", b"pain:\n  regions: [groin, groin]\n",
     ("pain.regions[1]", "'groin' is listed twice")),
    ("duplicate-key.yaml", b"pain:\n  regions: [groin]\n  regions: [buttock]\n",
     ("pain.regions", "duplicate key 'regions'", "line 3", "once")),
    ("duplicate-group.yaml", b"pain: {regions: [groin]}\npain: {regions: [buttock]}\n",
     ("pain", "duplicate key 'pain'", "line 2")),
    ("duplicate-key.json", b'{"pain": {"regions": ["groin"], "regions": ["buttock"]}}',
     ("pain.regions", "duplicate key 'regions'")),
    ("duplicate-group.json", b'{"pain": {"regions": ["groin"]}, "pain": {"regions": ["groin"]}}',
     ("pain", "duplicate key 'pain'")),
    ("python-tag.yaml", b"pain: !!python/object/apply:os.system ['echo hacked']\n",
     ("pain", "YAML tag !!python/object/apply:os.system", "not allowed", "plain text")),
    ("python-object.yaml", b"pain:\n  regions: [groin]\nrunner: !!python/object:builtins.dict {}\n",
     ("runner", "YAML tag !!python/object:builtins.dict", "not allowed")),
    ("custom-tag.yaml", b"pain:\n  regions: !mytag [groin]\n",
     ("pain.regions", "YAML tag !mytag", "not allowed", "line 2")),
    ("mistagged-bool.yaml", (GROIN + "systemic:\n  fever: !!bool maybe\n").encode(),
     ("systemic.fever", "found 'maybe' tagged !!bool", "expected true or false", "line")),
    ("mistagged-int.yaml", (GROIN + "runner:\n  age: !!int 1.5\n").encode(),
     ("runner.age", "found '1.5' tagged !!int", "whole number")),
    ("implicit-date.yaml", (GROIN + "case_id: 2024-01-01\n").encode(),
     ("case_id", "!!timestamp", "quote a value")),
    ("alias-bomb.yaml",
     b'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
     b"b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
     b"d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n"
     b"pain: {regions: [groin]}\n",
     ("b[0]", "aliases", "not allowed", "line 2")),
    ("simple-alias.yaml", b"pain:\n  regions: &r [groin]\n  origin: groin\nx: *r\n",
     ("x", "aliases", "not allowed")),
    ("non-utf8.yaml", b"pain:\n  regions: [gr\xffoin]\n",
     ("not UTF-8", "byte 20")),
    ("latin1.json", '{"pain": {"regions": ["groin"]}, "case_id": "Müller"}'.encode("latin-1"),
     ("not UTF-8",)),
    ("a-list.yaml", b"- pain\n- regions\n",
     ("expected a mapping at the top", "found a list")),
    ("a-list.json", b'[{"pain": {"regions": ["groin"]}}]',
     ("expected a mapping at the top", "found a list")),
    ("a-scalar.yaml", b"just some words\n",
     ("expected a mapping at the top", "found 'just some words'")),
    ("empty.yaml", b"",
     ("expected a mapping at the top", "nothing")),
    ("only-comments.yaml", b"# nothing here\n",
     ("expected a mapping at the top", "nothing")),
    ("deep-list.yaml", GROIN.encode() + b"x: " + b"[" * 200 + b"]" * 200 + b"\n",
     ("x", f"nested more than {MAX_DEPTH} levels")),
    ("deep-mapping.yaml",
     GROIN.encode() + b"x:\n" + b"".join(b"  " * i + b"y:\n" for i in range(1, 60)),
     ("x", f"nested more than {MAX_DEPTH} levels")),
    ("deep-list.json", b'{"pain": {"regions": ["groin"]}, "x": ' + b"[" * 5000 + b"]" * 5000 + b"}",
     (f"nested more than {MAX_DEPTH} levels",)),
    ("too-large.yaml", GROIN.encode() + b"# " + b"x" * (MAX_BYTES + 10) + b"\n",
     ("larger than", str(MAX_BYTES))),
    ("format-2.yaml", b"format: hipkb-case/2\npain: {regions: [groin]}\n",
     ("format", "found 'hipkb-case/2'", "allowed: hipkb-case/1")),
    ("empty-case-id.yaml", b"case_id: '  '\npain: {regions: [groin]}\n",
     ("case_id", "non-empty string")),
    ("long-case-id.yaml", ("case_id: " + "x" * 300 + "\n" + GROIN).encode(),
     ("case_id", "longer than 200")),
    ("expect-unknown-hypothesis.yaml", (GROIN + "expect:\n  top: [femoral_nek_bsi]\n").encode(),
     ("expect.top[0]", "found 'femoral_nek_bsi'", "femoral_neck_bsi", "did you mean 'femoral_neck_bsi'")),
    ("expect-unknown-key.yaml", (GROIN + "expect:\n  topp: [femoral_neck_bsi]\n").encode(),
     ("expect.topp", "unknown key", "triage_at_least", "did you mean 'top'")),
    ("expect-bad-triage.yaml", (GROIN + "expect:\n  triage_at_least: urgnt\n").encode(),
     ("expect.triage_at_least", "found 'urgnt'", "emergency, urgent", "did you mean 'urgent'")),
    ("expect-bad-running.yaml", (GROIN + "expect:\n  running: go\n").encode(),
     ("expect.running", "found 'go'", "stop, reduce, continue_as_tolerated")),
    ("expect-not-mapping.yaml", (GROIN + "expect: [femoral_neck_bsi]\n").encode(),
     ("expect", "expected a mapping")),
    ("expect-not-list.yaml", (GROIN + "expect:\n  includes: femoral_neck_bsi\n").encode(),
     ("expect.includes", "expected a list of hypothesis ids")),
    ("yaml-syntax.yaml", b"pain: {regions: [groin]\n",
     ("line 2", "not valid YAML")),
    ("json-syntax.json", b'{"pain": {"regions": ["groin"]}',
     ("line 1", "not valid JSON")),
    ("json-nan.json", b'{"pain": {"regions": ["groin"], "severity": NaN}}',
     ("NaN", "not valid JSON")),
    ("yaml-nan.yaml", (GROIN + "  severity: .nan\n").encode(),
     ("pain.severity", "finite number")),
    ("newline-in-key.yaml", b'pain:\n  regions: [groin]\n  "sev\\nerity": 3\n',
     ("pain.sev\\nerity", "unknown field")),
    ("complex-key.yaml", b"pain:\n  regions: [groin]\n? [a, b]\n: 1\n",
     ("a key must be a plain value",)),
]
MALFORMED = [m for m in MALFORMED if m[2]]  # drop the placeholder
MALFORMED.append(("out-of-range-low.yaml", (GROIN + "  severity: -1\n").encode(),
                  ("pain.severity", "found -1", "a number from 0 to 10")))
MALFORMED.append(("weeks-negative.yaml", (GROIN + "history:\n  weeks_since_onset: -2\n").encode(),
                  ("history.weeks_since_onset", "found -2", "a number from 0 to")))


def _write(directory: Path, name: str, content: bytes) -> Path:
    path = directory / name
    path.write_bytes(content)
    return path


def _assert_one_line(message: str, *parts: str) -> None:
    assert "\n" not in message.rstrip("\n"), message
    assert "Traceback" not in message
    for part in parts:
        assert part in message, f"{part!r} not in {message!r}"


@pytest.mark.parametrize(("name", "content", "expected"), MALFORMED, ids=[m[0] for m in MALFORMED])
def test_library_refuses_malformed_case(tmp_path, kb, name, content, expected):
    path = _write(tmp_path, name, content)
    with pytest.raises(CaseError) as info:
        api.load_case(path, kb)
    error = info.value
    assert error.exit_code == 2
    _assert_one_line(str(error), str(path), *expected)


@pytest.mark.parametrize(("name", "content", "expected"), MALFORMED, ids=[m[0] for m in MALFORMED])
def test_cli_refuses_malformed_case(tmp_path, cli, name, content, expected):
    path = _write(tmp_path, name, content)
    out = tmp_path / "out.json"
    for args in (("validate", path), ("run", path, "--format", "json", "-o", out)):
        result = cli(*args)
        assert result.exit_code == 2, (args, result.output)
        assert result.stdout == ""
        stderr = result.stderr
        assert stderr.startswith("hipkb: ") and stderr.count("\n") == 1, stderr
        _assert_one_line(stderr, str(path), *expected)
        assert not out.exists()
        assert [p.name for p in tmp_path.iterdir()] == [name], "no output or temporary file is left"


@pytest.mark.parametrize(("name", "content", "expected"), MALFORMED[:12] + MALFORMED[-12:],
                         ids=[m[0] for m in MALFORMED[:12] + MALFORMED[-12:]])
def test_cli_refuses_malformed_case_on_stdin(cli, name, content, expected):
    if len(content) > MAX_BYTES:
        pytest.skip("stdin size is covered by the file test")
    result = cli("validate", "-", input=content)
    assert result.exit_code == 2, result.output
    _assert_one_line(result.stderr, "<stdin>", *[e for e in expected if not e.startswith("line ")])


def test_directory_given_as_a_case(tmp_path, kb, cli):
    empty = tmp_path / "empty-dir"
    empty.mkdir()
    with pytest.raises(HipkbError) as info:
        api.load_case(empty, kb)
    _assert_one_line(str(info.value), str(empty), "is a directory")
    result = cli("validate", empty)
    assert result.exit_code == 2
    _assert_one_line(result.stderr, str(empty), "is a directory")


def test_missing_file(tmp_path, kb, cli):
    missing = tmp_path / "nope.yaml"
    with pytest.raises(HipkbError) as info:
        api.load_case(missing, kb)
    _assert_one_line(str(info.value), str(missing), "no such file")
    result = cli("run", missing, "--format", "json")
    assert result.exit_code == 2
    _assert_one_line(result.stderr, str(missing), "no such file")


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0,
                    reason="root reads any file whatever its mode")
def test_unreadable_file(tmp_path, kb, cli):
    path = _write(tmp_path, "secret.yaml", GROIN.encode())
    path.chmod(0)
    try:
        with pytest.raises(HipkbError) as info:
            api.load_case(path, kb)
        _assert_one_line(str(info.value), str(path), "permission denied")
        assert cli("validate", path).exit_code == 2
    finally:
        path.chmod(0o600)


# --------------------------------------------------------------------------
# what is accepted, and how it is normalised


def test_smallest_case_loads(kb):
    case = validate({"pain": {"regions": ["buttock"]}}, kb.vocabulary, "x", hypotheses=kb.hypotheses)
    assert case.case_id == "case"
    assert dict(case.facts()) == {"pain.regions": ("buttock",)}


def test_case_id_defaults_to_file_stem(tmp_path, kb):
    path = _write(tmp_path, "runner-042.yaml", GROIN.encode())
    assert api.load_case(path, kb).case_id == "runner-042"


def test_unknown_spellings_mean_omitted(kb):
    data = {"pain": {"regions": ["groin"], "depth": "unknown"},
            "exam": {"fulcrum": "not_tested"}, "runner": {"sex": "unknown"}}
    case = validate(data, kb.vocabulary, "x")
    assert dict(case.facts()) == {"pain.regions": ("groin",)}


def test_booleans_mean_yes_and_no(kb):
    words = validate({"pain": {"regions": ["groin"]}, "neuro": {"numbness": "yes", "weakness": "no"}},
                     kb.vocabulary, "x")
    booleans = validate({"pain": {"regions": ["groin"]}, "neuro": {"numbness": True, "weakness": False}},
                        kb.vocabulary, "x")
    assert words.findings == booleans.findings


def test_yaml_bare_yes_is_read_as_yes(tmp_path, kb):
    path = _write(tmp_path, "c.yaml", (GROIN + "neuro:\n  numbness: yes\n  weakness: no\n").encode())
    assert api.load_case(path, kb).get("neuro.numbness") == "yes"
    assert api.load_case(path, kb).get("neuro.weakness") == "no"


def test_null_groups_mean_nothing_known(tmp_path, kb):
    path = _write(tmp_path, "c.yaml", (GROIN + "runner:\nexam:\n").encode())
    assert dict(api.load_case(path, kb).facts()) == {"pain.regions": ("groin",)}


def test_lists_are_normalised_to_vocabulary_order(kb):
    a = validate({"pain": {"regions": ["lower_back", "groin"]}}, kb.vocabulary, "x")
    b = validate({"pain": {"regions": ["groin", "lower_back"]}}, kb.vocabulary, "x")
    assert a.findings == b.findings


def test_utf8_bom_and_json_are_accepted(tmp_path, kb):
    bom = _write(tmp_path, "bom.yaml", b"\xef\xbb\xbf" + GROIN.encode())
    assert api.load_case(bom, kb).get("pain.regions") == ("groin",)
    js = _write(tmp_path, "c.json", json.dumps({"pain": {"regions": ["groin"]}}).encode())
    assert api.load_case(js, kb).get("pain.regions") == ("groin",)


def test_every_example_case_loads(kb):
    cases = sorted((ROOT / "facts" / "cases").glob("*.yaml"))
    assert cases
    for path in cases:
        api.load_case(path, kb)


# --------------------------------------------------------------------------
# property tests: drawn cases load; corrupted cases name the corrupted field

_SETTINGS = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow], max_examples=150)


@_SETTINGS
@given(case=hs.cases(with_expect=True))
def test_any_drawn_case_validates(kb, case):
    validated = validate(case, kb.vocabulary, "drawn", hypotheses=kb.hypotheses)
    # Every finding the case gives is kept, and a spelling of unknown is unknown, not a value.
    for group, fields in case.items():
        if group in kb.vocabulary.groups and isinstance(fields, dict):
            for name, value in fields.items():
                spec = kb.vocabulary.fields[f"{group}.{name}"]
                unknown = isinstance(value, str) and value in spec.unknown
                assert (validated.get(spec.path) is None) == unknown, (spec.path, value)


@_SETTINGS
@given(case=hs.cases(), suffix=st.sampled_from([".yaml", ".json"]))
def test_any_drawn_case_loads_from_a_file(kb, tmp_path_factory, case, suffix):
    path = tmp_path_factory.mktemp("drawn") / f"case{suffix}"
    text = json.dumps(case) if suffix == ".json" else yaml.safe_dump(case, allow_unicode=True)
    path.write_text(text, encoding="utf-8")
    loaded = api.load_case(path, kb)
    direct = validate(case, kb.vocabulary, str(path), default_id="case")
    assert loaded.findings == direct.findings


@settings(deadline=None, max_examples=300)
@given(drawn=hs.corrupted_cases())
def test_corrupted_case_names_the_field(kb, drawn):
    case, path = drawn
    with pytest.raises(CaseError) as info:
        validate(case, kb.vocabulary, "corrupted.yaml", hypotheses=kb.hypotheses)
    message = str(info.value)
    _assert_one_line(message, "corrupted.yaml", path)
    assert info.value.where == path or info.value.where.startswith(path), (info.value.where, path)


def test_a_huge_key_gives_a_readable_line(tmp_path, kb):
    path = tmp_path / "huge-key.json"
    path.write_text(json.dumps({"pain": {"regions": ["groin"]}, "k" * 500_000: 1}), encoding="utf-8")
    with pytest.raises(CaseError) as info:
        api.load_case(path, kb)
    message = str(info.value)
    _assert_one_line(message, str(path), "kkk", "...", "unknown group")
    assert len(message) < 1000


def test_stdin_is_read_no_further_than_the_limit(cli):
    result = cli("validate", "-", input=b"#" * (MAX_BYTES * 3))
    assert result.exit_code == 2
    _assert_one_line(result.stderr, "<stdin>", "larger than", str(MAX_BYTES))


# --------------------------------------------------------------------------
# fuzzing: whatever the bytes, the only failure is a one-line HipkbError

_FUZZ = settings(deadline=None, max_examples=300, suppress_health_check=list(HealthCheck))
_JSON_DATA = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)


def _load_and_run(kb, text: str, kind: str) -> None:
    from hipkb.parse.text import parse_text

    try:
        data = parse_text(text, "fuzz", kind=kind)
        case = validate(data, kb.vocabulary, "fuzz", hypotheses=kb.hypotheses)
        api.run_case(api.reasoner_for(kb), case)
    except HipkbError as error:
        assert "\n" not in str(error)


@_FUZZ
@given(text=st.text(max_size=200), kind=st.sampled_from(["yaml", "json", "auto"]))
def test_any_text_fails_only_with_a_one_line_error(kb, text, kind):
    _load_and_run(kb, text, kind)


@_FUZZ
@given(case=hs.cases(), data=st.data())
def test_a_mutated_yaml_case_fails_only_with_a_one_line_error(kb, case, data):
    text = yaml.safe_dump(case)
    index = data.draw(st.integers(0, len(text) - 1))
    char = data.draw(st.sampled_from(list(":-[]{}&*!|>'\"#%@` \n\t?,")))
    _load_and_run(kb, text[:index] + char + text[index + 1:], "yaml")


@_FUZZ
@given(data=st.data())
def test_any_structure_fails_only_with_a_one_line_error(kb, data):
    names = sorted({f.name for f in kb.vocabulary.fields.values()})
    groups = st.dictionaries(st.sampled_from(names), _JSON_DATA, max_size=5)
    keys = st.sampled_from([*kb.vocabulary.groups, "format", "case_id", "expect"])
    case = data.draw(st.dictionaries(keys, _JSON_DATA | groups, max_size=5))
    _load_and_run(kb, json.dumps(case), "json")


def test_a_file_name_with_a_newline_stays_on_one_line(tmp_path, cli):
    path = tmp_path / "two\nlines.yaml"
    path.write_text(GROIN + "runner: {age: 3}\n", encoding="utf-8")
    result = cli("validate", path)
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1
    _assert_one_line(result.stderr, "two\\nlines.yaml", "runner.age", "found 3")


def test_broken_symlink_and_symlink_loop_are_refused(tmp_path, kb, cli):
    broken = tmp_path / "broken.yaml"
    broken.symlink_to(tmp_path / "nowhere.yaml")
    loop = tmp_path / "loop.yaml"
    loop.symlink_to(loop)
    for path, words in ((broken, "no such file"), (loop, "cannot be read")):
        with pytest.raises(CaseError) as info:
            api.load_case(path, kb)
        _assert_one_line(str(info.value), str(path), words)
        result = cli("run", path, "--format", "json")
        assert result.exit_code == 2
        _assert_one_line(result.stderr, str(path))


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux's /proc")
def test_a_file_larger_than_its_size_says_is_read_whole():
    # /proc files are regular files of size 0: the read must not stop at what fstat says.
    from hipkb.parse.reading import read_text

    text = read_text(Path("/proc/self/status"))
    assert text.startswith("Name:") and "VmPeak" in text


def test_a_file_exactly_at_the_limit_is_read_and_one_byte_more_is_refused(tmp_path):
    from hipkb.parse.reading import read_text

    at_limit = tmp_path / "at.yaml"
    at_limit.write_bytes(b"#" * MAX_BYTES)
    assert len(read_text(at_limit)) == MAX_BYTES
    over = tmp_path / "over.yaml"
    over.write_bytes(b"#" * (MAX_BYTES + 1))
    with pytest.raises(HipkbError, match="larger than"):
        read_text(over)


def test_a_bare_no_reads_as_no_where_a_choice_has_no_but_not_yes(kb, tmp_path):
    # YAML 1.1 reads a bare no as false: pregnancy (pregnant, postpartum, no) and disordered
    # eating (no, restriction_or_history, eating_disorder) take it as the word it was written as.
    path = tmp_path / "no.yaml"
    path.write_text("pain: {regions: [groin]}\nhistory: {pregnancy: no, disordered_eating: no}\n")
    case = api.load_case(path, kb)
    assert case.get("history.pregnancy") == "no" and case.get("history.disordered_eating") == "no"
    path.write_text("pain: {regions: [groin]}\nhistory: {pregnancy: yes}\n")
    with pytest.raises(HipkbError, match=r"history\.pregnancy: found yes; allowed: pregnant"):
        api.load_case(path, kb)
