"""The command line: --version and --help everywhere, exit statuses, bad knowledge bases,
real subprocesses (no traceback), and byte-identical output across hash seeds."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import click
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from paths import ROOT
from resultcheck import check_result

import hipkb
from hipkb.cli import main
from hipkb.testing import strategies as hs

CASES = ROOT / "facts" / "cases"
GROIN = "pain:\n  regions: [groin]\n"


def _hipkb_executable() -> str:
    """The console script of the interpreter running the tests."""
    here = Path(sys.executable).parent / "hipkb"
    return str(here) if here.exists() else (shutil.which("hipkb") or "hipkb")


def _commands() -> list[str]:
    with click.Context(main) as ctx:
        return main.list_commands(ctx)


def _one_line(text: str) -> str:
    assert "Traceback" not in text, text
    assert text.startswith("hipkb: ") and text.count("\n") == 1, repr(text)
    return text


# --------------------------------------------------------------------------
# --version, --help


@pytest.mark.parametrize("flag", ["--version", "-V"])
def test_version(cli, flag):
    result = cli(flag)
    assert result.exit_code == 0
    assert result.output.strip() == f"hipkb, version {hipkb.__version__}"


def test_main_help_lists_the_commands(cli):
    result = cli("--help")
    assert result.exit_code == 0
    assert "Usage: hipkb" in result.output
    for name in ("run", "validate", "schema"):
        assert name in _commands()
        assert f"  {name} " in result.output


@pytest.mark.parametrize("name", _commands())
@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_help_on_every_command(cli, name, flag):
    result = cli(name, flag)
    assert result.exit_code == 0, result.output
    assert f"Usage: hipkb {name}" in result.output
    assert "--help" in result.output


def test_help_subprocess_every_command():
    for name in ["", *_commands()]:
        args = [_hipkb_executable(), *([name] if name else []), "--help"]
        proc = subprocess.run(args, capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, (name, proc.stderr)
        assert proc.stdout.startswith("Usage: hipkb"), proc.stdout[:200]


# --------------------------------------------------------------------------
# exit statuses: 0 all ran, 1 a case failed, 2 bad usage or bad input


def test_run_example_cases_exit_0_and_valid_results(cli, kb):
    result = cli("run", CASES, "--format", "json")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == len(list(CASES.rglob("*.yaml")))  # the published cases below it too
    for line in lines:
        check_result(json.loads(line), kb)


def test_run_one_case_prints_one_json_object(cli, kb):
    result = cli("run", CASES / "minimal.yaml", "--format", "json")
    assert result.exit_code == 0
    assert result.stdout.count("\n") == 1
    data = json.loads(result.stdout)
    check_result(data, kb)
    assert data["case_id"] == "minimal"
    assert data["next_questions"], "the smallest case says what to ask next"


def test_validate_exit_codes(cli, tmp_path):
    good = tmp_path / "good.yaml"
    good.write_text(GROIN)
    bad = tmp_path / "bad.yaml"
    bad.write_text(GROIN + "runner: {age: 5}\n")
    ok = cli("validate", good)
    assert ok.exit_code == 0 and "ok" in ok.stdout
    assert cli("validate", "-q", good).stdout == ""
    mixed = cli("validate", good, bad)
    assert mixed.exit_code == 2
    assert "runner.age" in mixed.stderr and str(bad) in mixed.stderr
    assert "good.yaml: ok" in mixed.stdout


def test_batch_with_one_bad_case_exits_1_and_runs_the_rest(cli, tmp_path, kb):
    (tmp_path / "a-good.yaml").write_text(GROIN)
    (tmp_path / "b-bad.yaml").write_text(GROIN + "history: {onset: gradul}\n")
    (tmp_path / "c-good.json").write_text(json.dumps({"pain": {"regions": ["buttock"]}}))
    result = cli("run", tmp_path, "--format", "json", "--jobs", "1")
    assert result.exit_code == 1
    ids = [json.loads(line)["case_id"] for line in result.stdout.splitlines()]
    assert ids == ["a-good", "c-good"]
    assert "Traceback" not in result.stderr
    assert any("b-bad.yaml" in line and "history.onset" in line and "gradul" in line
               for line in result.stderr.splitlines())


@pytest.mark.parametrize("args", [
    (),
    ("run",),
    ("validate",),
    ("no-such-command",),
    ("run", "--format", "pdf", "x.yaml"),
    ("run", "--no-such-option", "x.yaml"),
    ("run", "--rules", "/no/such/dir", "x.yaml"),
    ("schema", "--facts", "/no/such/dir"),
    ("run", ""),
    ("validate", ""),
])
def test_bad_usage_exits_2(cli, args):
    result = cli(*args)
    assert result.exit_code == 2, (args, result.output)
    assert "Traceback" not in result.output


def test_stdin_json_lines(cli, kb):
    lines = "\n".join(json.dumps({"case_id": f"s{i}", "pain": {"regions": [r]}})
                      for i, r in enumerate(["groin", "buttock", "lateral_hip"]))
    result = cli("run", "-", "--format", "json", input=lines + "\n")
    assert result.exit_code == 0, result.stderr
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert [o["case_id"] for o in out] == ["s0", "s1", "s2"]
    for o in out:
        check_result(o, kb)


def test_internal_error_is_one_line_exit_1(cli, monkeypatch):
    import hipkb.knowledge.schema

    def broken(*args, **kwargs):
        raise RuntimeError("simulated bug\nwith a second line")

    monkeypatch.setattr(hipkb.knowledge.schema, "case_schema", broken)
    result = cli("schema")
    assert result.exit_code == 1
    line = _one_line(result.stderr)
    assert "internal error" in line and "RuntimeError" in line and "-v" in line
    with pytest.raises(RuntimeError):  # -v shows the real traceback, for developers
        cli("-v", "schema")


# --------------------------------------------------------------------------
# bad knowledge bases: --rules DIR / --facts DIR


def _copy_rules(rules_dir: Path, tmp_path: Path) -> Path:
    target = tmp_path / "rules"
    shutil.copytree(rules_dir, target)
    return target


def _rule(kb, rid: str, when: dict, then: dict | None = None) -> dict:
    source = f"seed: {kb.seed_sections[0]}" if kb.seed_sections else "test source"
    hypothesis = sorted(kb.hypotheses)[0]
    return {"id": rid, "title": "A test rule", "source": source, "when": when,
            "then": then or {"supports": hypothesis, "weight": 0.2}}


def _bad_rule_dirs(kb, rules_dir: Path, tmp_path: Path) -> list[tuple[str, Path, tuple[str, ...]]]:
    """(label, rules dir, strings the error must hold), one per class of bad rule file."""
    made = []

    def variant(label: str, text: str, expected: tuple[str, ...], manifest=None) -> None:
        target = _copy_rules(rules_dir, tmp_path / label)
        (target / "zz-bad.yaml").write_text(text, encoding="utf-8")
        if manifest is not None:
            data = yaml.safe_load((target / "kb.yaml").read_text(encoding="utf-8"))
            manifest(data)
            (target / "kb.yaml").write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
        made.append((label, target, (str(target / "zz-bad.yaml"), *expected)))

    def dump(*rules: dict) -> str:
        return yaml.safe_dump({"topic": "Broken", "rules": list(rules)}, sort_keys=False)

    first_field = next(iter(kb.vocabulary.fields))
    choice = next(f for f in kb.vocabulary.fields.values() if f.type == "choice")
    existing = kb.rules[0].id

    variant("syntax", "rules:\n  - id: BAD-SYNTAX\n    title: [unclosed\n", ("not valid YAML", "line"))
    variant("unknown-fact", dump(_rule(kb, "BAD-FACT", {first_field + "x": "yes"})),
            ("rule BAD-FACT", f"when.{first_field}x", "unknown fact", "did you mean"))
    variant("unknown-value", dump(_rule(kb, "BAD-VALUE", {choice.path: "no_such_value"})),
            ("rule BAD-VALUE", choice.path, "unknown value 'no_such_value'", "allowed:"))
    variant("duplicate-id", dump(_rule(kb, existing, {choice.path: next(iter(choice.values))})),
            (f"rule {existing}", "duplicate id"))
    variant("never-produced", dump(_rule(kb, "BAD-DERIVED", {"never_made": "present"})),
            ("rule BAD-DERIVED", "when.never_made", "no rule concludes never_made=present"),
            manifest=lambda m: m.setdefault("derived", {}).update(
                {"never_made": {"label": "Nothing makes this", "values": {"present": "present"}}}))
    variant("unknown-hypothesis", dump(_rule(kb, "BAD-HYP", {}, {"supports": "no_such_thing", "weight": 0.3})),
            ("rule BAD-HYP", "unknown hypothesis 'no_such_thing'"))
    variant("list-target", dump(_rule(kb, "BAD-LIST", {}, {"supports": [sorted(kb.hypotheses)[0]],
                                                           "weight": 0.3})),
            ("rule BAD-LIST", "then.supports", "found a list"))
    variant("bad-weight", dump(_rule(kb, "BAD-WEIGHT", {}, {"supports": sorted(kb.hypotheses)[0], "weight": 3})),
            ("rule BAD-WEIGHT", "then.weight", "found 3"))
    variant("yaml-tag", "rules: !!python/object/apply:os.system ['echo pwned']\n",
            ("rules", "YAML tag", "not allowed"))
    variant("duplicate-key", "rules:\n  - id: DUP-KEY\n    title: a\n    title: b\n",
            ("rules[0].title", "duplicate key 'title'"))
    variant("newline-key", dump(_rule(kb, "BAD-NL", {"history.on\nset": "gradual"})),
            ("rule BAD-NL", "history.on\\nset", "unknown fact"))
    return made


def test_bad_rule_files_are_refused_naming_file_and_rule(cli, kb, rules_dir, tmp_path):
    case = CASES / "minimal.yaml"
    for label, directory, expected in _bad_rule_dirs(kb, rules_dir, tmp_path):
        for args in (("run", "--rules", directory, case), ("validate", "--rules", directory, case),
                     ("schema", "--rules", directory)):
            result = cli(*args)
            assert result.exit_code == 2, (label, args, result.output)
            assert result.stdout == "", label
            line = _one_line(result.stderr)
            for part in expected:
                assert part in line, (label, part, line)


def test_bad_rule_file_in_a_real_subprocess(kb, rules_dir, tmp_path):
    _label, directory, expected = _bad_rule_dirs(kb, rules_dir, tmp_path)[1]
    proc = subprocess.run([_hipkb_executable(), "run", "--rules", str(directory), str(CASES / "minimal.yaml")],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == ""
    line = _one_line(proc.stderr)
    for part in expected:
        assert part in line


@pytest.mark.parametrize(("edit", "expected"), [
    (("min_items: 1", "min_items: lots"), ("pain.regions.min_items", "found 'lots'")),
    (("min: 10", "min: ten"), ("runner.age.min", "found 'ten'")),
    (("format: hipkb-vocabulary/1", "format: other"), ("format", "hipkb-vocabulary/1")),
    (("type: integer", "type: integr"), ("runner.age", "type must be one of")),
])
def test_bad_vocabulary_is_refused(cli, facts_dir, tmp_path, edit, expected):
    target = tmp_path / "facts"
    target.mkdir()
    text = (facts_dir / "vocabulary.yaml").read_text(encoding="utf-8")
    assert edit[0] in text
    (target / "vocabulary.yaml").write_text(text.replace(edit[0], edit[1], 1), encoding="utf-8")
    result = cli("validate", "--facts", target, CASES / "minimal.yaml")
    assert result.exit_code == 2
    line = _one_line(result.stderr)
    for part in (str(target / "vocabulary.yaml"), *expected):
        assert part in line


def test_another_rules_dir_is_used(cli, rules_dir, tmp_path):
    target = _copy_rules(rules_dir, tmp_path)
    data = yaml.safe_load((target / "kb.yaml").read_text(encoding="utf-8"))
    data["name"] = "a-variant"
    (target / "kb.yaml").write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    result = cli("run", "--rules", target, CASES / "minimal.yaml", "--format", "json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["kb"]["name"] == "a-variant"


# --------------------------------------------------------------------------
# real subprocesses: no traceback, byte-identical across hash seeds


@pytest.mark.parametrize("content", [
    b"pain: {regions: [groin]}\nrunnr: {age: 30}\n",
    b"pain: !!python/object/apply:os.system ['echo hacked']\n",
    b"pain:\n  regions: [gr\xffoin]\n",
    b"- a\n- b\n",
])
def test_malformed_case_in_a_real_subprocess(tmp_path, content):
    case = tmp_path / "bad.yaml"
    case.write_bytes(content)
    out = tmp_path / "out.json"
    proc = subprocess.run([_hipkb_executable(), "run", str(case), "--format", "json", "-o", str(out)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stdout == ""
    line = _one_line(proc.stderr)
    assert str(case) in line
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.yaml"]


def test_output_is_byte_identical_across_hash_seeds(tmp_path):
    outputs = []
    for seed in ("0", "12345"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        proc = subprocess.run([_hipkb_executable(), "run", str(CASES), "--format", "json"],
                              capture_output=True, timeout=300, env=env, cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr.decode()
        outputs.append(proc.stdout)
    assert outputs[0].count(b"\n") == len(list(CASES.rglob("*.yaml")))
    assert outputs[0] == outputs[1]


def test_single_job_and_parallel_give_the_same_bytes(tmp_path):
    outputs = []
    for jobs in ("1", "2"):
        proc = subprocess.run([_hipkb_executable(), "run", str(CASES), "--format", "json", "--jobs", jobs],
                              capture_output=True, timeout=300, cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr.decode()
        outputs.append(proc.stdout)
    assert outputs[0] == outputs[1]


# --------------------------------------------------------------------------
# property: a corrupted case, through the CLI, exits 2 naming the field


@settings(deadline=None, max_examples=60, suppress_health_check=[HealthCheck.too_slow,
                                                                   HealthCheck.function_scoped_fixture])
@given(drawn=hs.corrupted_cases(), as_yaml=st.booleans())
def test_corrupted_case_through_the_cli_names_the_field(cli, tmp_path, drawn, as_yaml):
    case, path = drawn
    if as_yaml:
        file = tmp_path / "corrupted.yaml"
        file.write_text(yaml.safe_dump(case, allow_unicode=True), encoding="utf-8")
        out = tmp_path / "out.json"
        result = cli("run", file, "--format", "json", "-o", out)
        assert not out.exists()
        name = str(file)
    else:
        result = cli("validate", "-", input=json.dumps(case))
        name = "<stdin>"
    assert result.exit_code == 2, (path, result.output)
    assert result.stdout == ""
    line = _one_line(result.stderr)
    assert f"{name}: {path}" in line, (path, line)


def test_alias_bomb_in_a_facts_dir_is_refused_quickly(cli, facts_dir, tmp_path):
    """The vocabulary may use aliases; a --facts DIR that expands without bound may not."""
    target = tmp_path / "facts"
    target.mkdir()
    lines = ['bomb_0: &b0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"bomb_{i}: &b{i} [{', '.join([f'*b{i - 1}'] * 9)}]" for i in range(1, 10)]
    text = (facts_dir / "vocabulary.yaml").read_text(encoding="utf-8") + "\n" + "\n".join(lines) + "\n"
    (target / "vocabulary.yaml").write_text(text, encoding="utf-8")
    result = cli("validate", "--facts", target, CASES / "minimal.yaml")
    assert result.exit_code == 2
    line = _one_line(result.stderr)
    assert "expands through aliases" in line and "bomb_" in line


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_output_to_a_fifo_writes_into_it_and_keeps_it(cli, tmp_path, kb):
    """-o into a pipe or device (/dev/stdout) must not replace it with a regular file."""
    import stat
    import threading

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()), daemon=True)
    reader.start()
    result = cli("run", CASES / "minimal.yaml", "--format", "json", "-o", fifo)
    reader.join(timeout=30)
    assert result.exit_code == 0, result.output
    assert stat.S_ISFIFO(fifo.stat().st_mode), "the FIFO was replaced by a file"
    check_result(json.loads(received[0]), kb)


def test_output_through_a_symlink_loop_is_one_line(cli, tmp_path):
    loop = tmp_path / "loop.json"
    loop.symlink_to(loop)
    result = cli("run", CASES / "minimal.yaml", "--format", "json", "-o", loop)
    assert result.exit_code == 2
    assert "loop.json" in _one_line(result.stderr)


def test_a_large_vocabulary_without_aliases_is_not_an_alias_bomb(cli, facts_dir, tmp_path):
    """Only what aliases add counts against the expansion bound: 120,000 values written out are loaded."""
    target = tmp_path / "facts"
    target.mkdir()
    data = yaml.safe_load((facts_dir / "vocabulary.yaml").read_text(encoding="utf-8"))
    listed = [f"v{i}" for i in range(120_000)]
    text = (facts_dir / "vocabulary.yaml").read_text(encoding="utf-8")
    text += "\nlong_list: [" + ", ".join(listed) + "]\n"
    assert "long_list" not in data and len(text.encode()) < 1_000_000
    (target / "vocabulary.yaml").write_text(text, encoding="utf-8")
    result = cli("validate", "--facts", target, CASES / "minimal.yaml")
    assert "expands through aliases" not in result.output
    assert result.exit_code == 0, result.output


# --------------------------------------------------------------------------
# issue 20: a standard stream closed when hipkb starts (<&-, >&-)

CLOSED_STDIN = "hipkb: <stdin>: standard input is closed; nothing can be read from it"
CLOSED_STDOUT = "hipkb: <stdout>: standard output is closed"


def _with_closed(fd: int, *args: object, cwd: Path | None = None) -> subprocess.CompletedProcess[bytes]:
    script = "import sys; from hipkb.cli import main; sys.exit(main())"
    return subprocess.run([sys.executable, "-c", script, *map(str, args)], stdin=subprocess.DEVNULL,
                          capture_output=fd != 1, stdout=subprocess.DEVNULL if fd == 1 else None,
                          stderr=subprocess.PIPE if fd == 1 else None, preexec_fn=lambda: os.close(fd),
                          timeout=300, cwd=cwd)


@pytest.mark.parametrize(("fd", "args", "expected"), [
    (0, ("interview",), CLOSED_STDIN),
    (0, ("run", "-"), CLOSED_STDIN),
    (0, ("validate", "-"), CLOSED_STDIN),
    (1, ("run", CASES / "fnbsi-classic.yaml"), CLOSED_STDOUT),
    (1, ("run", CASES / "fnbsi-classic.yaml", CASES / "sacral-stress.yaml"), CLOSED_STDOUT),
    (1, ("validate", CASES / "fnbsi-classic.yaml"), CLOSED_STDOUT),
    (1, ("schema",), CLOSED_STDOUT),
    (1, ("interview",), CLOSED_STDOUT),
], ids=["interview <&-", "run - <&-", "validate - <&-", "run >&-", "run batch >&-", "validate >&-", "schema >&-",
        "interview >&-"])
def test_a_closed_standard_stream_is_one_line_and_exit_2(fd, args, expected):
    result = _with_closed(fd, *args)
    assert result.returncode == 2
    line = _one_line(result.stderr.decode())
    assert line.startswith(expected), line


def test_a_command_that_needs_no_stdout_runs_without_one(tmp_path):
    (tmp_path / "out").mkdir()
    result = _with_closed(1, "run", CASES / "fnbsi-classic.yaml", CASES / "sacral-stress.yaml", "-o", "out",
                          "--jobs", "2", cwd=tmp_path)
    assert result.returncode == 0, result.stderr.decode()
    written = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert written == ["fnbsi-classic.json", "sacral-stress.json"]
    for name in written:  # whole results, and nothing meant for stdout in them
        assert json.loads((tmp_path / "out" / name).read_text())["format"] == "hipkb-result/1"
