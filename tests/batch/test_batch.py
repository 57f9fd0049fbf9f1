"""Batch mode of ``hipkb run``: many inputs, worker processes, bad cases that stop nothing.

No test here is timed: speed is measured by ``benchmarks/run.py``, not asserted.
"""

from __future__ import annotations

import io
import json
import random
import subprocess
import sys
from pathlib import Path

import pytest
from casefiles import generated, write_cases
from paths import ROOT

from hipkb.batch import runner as batch
from hipkb.load.inputs import InputGuard, expand

CASES = sorted((ROOT / "facts" / "cases").glob("*.yaml"))


def hipkb(*args: str, input: bytes | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[bytes]:
    """The CLI in a process of its own: worker pools fork, as they do for users."""
    script = "import sys; from hipkb.cli import main; sys.exit(main())"
    return subprocess.run([sys.executable, "-c", script, *map(str, args)], input=input,
                          capture_output=True, cwd=cwd, timeout=600)


def ids(stdout: str | bytes) -> list[str]:
    text = stdout.decode() if isinstance(stdout, bytes) else stdout
    return [json.loads(line)["case_id"] for line in text.splitlines()]


# -- inputs ------------------------------------------------------------------

def test_several_files_and_a_directory(cli, tmp_path):
    nested = tmp_path / "cases" / "deeper"
    write_cases(nested, [{"case_id": "nested-one", "pain": {"regions": ["groin"]}}], ".yaml")
    (tmp_path / "cases" / "notes.txt").write_text("not a case")
    (tmp_path / "cases" / ".hidden.yaml").write_text("pain: {regions: [groin]}")
    result = cli("run", CASES[0], CASES[1], tmp_path / "cases")
    assert result.exit_code == 0, result.stderr
    stems = [CASES[0].stem, CASES[1].stem]
    got = ids(result.stdout)
    assert len(got) == 3 and got[2] == "nested-one"
    # case ids default to file names: the two files come first, in argument order
    assert [json.loads(line)["case_id"] for line in result.stdout.splitlines()[:2]] == [
        _case_id(CASES[0], stems[0]), _case_id(CASES[1], stems[1])]
    assert "hipkb: 3 cases: 3 ran, 0 failed" in result.stderr


def _case_id(path: Path, default: str) -> str:
    import yaml

    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return str(data.get("case_id", default))


def test_json_lines_on_stdin_match_the_same_cases_as_files(cli, kb, tmp_path):
    cases = generated(kb, 12, seed=3)
    paths = write_cases(tmp_path, cases)
    from_files = cli("run", *paths)
    lines = "\n".join(json.dumps(c) for c in cases) + "\n"
    from_stdin = cli("run", "-", input=lines.encode())
    assert from_stdin.exit_code == 0, from_stdin.stderr
    assert from_stdin.stdout == from_files.stdout
    assert "12 cases: 12 ran" in from_stdin.stderr


def test_a_bad_line_of_json_lines_is_a_bad_case_of_its_own(cli, kb):
    good = [json.dumps(c) for c in generated(kb, 3, seed=4)]
    text = "\n".join([good[0], '{"pain": {"regions": ["nowhere"]}}', good[1], "{not json", good[2]]) + "\n"
    result = cli("run", "-", input=text.encode())
    assert result.exit_code == 1
    assert ids(result.stdout) == ["gen-0000", "gen-0001", "gen-0002"]
    assert "<stdin>:2: pain.regions[0]" in result.stderr
    assert "<stdin>:4" in result.stderr
    assert "5 cases: 3 ran, 2 failed" in result.stderr


def test_stdin_json_lines_are_read_lazily():
    """Memory stays flat: a source is handed on before the rest of the stream is read."""
    consumed = []

    def stream():
        for n in range(1000):
            consumed.append(n)
            yield json.dumps({"case_id": f"c{n}", "pain": {"regions": ["groin"]}}).encode() + b"\n"

    sources = expand(["-"], stdin=stream())
    first = next(sources)
    assert first.name == "<stdin>:1"
    assert len(consumed) < 10


def test_a_single_json_object_on_several_lines_is_one_case(cli):
    text = '{\n  "case_id": "pretty",\n  "pain": {"regions": ["groin"]}\n}\n'
    result = cli("run", "-", input=text.encode())
    assert result.exit_code == 0, result.stderr
    assert ids(result.stdout) == ["pretty"]


# -- parallel runs -------------------------------------------------------------

def test_jobs_2_gives_the_same_bytes_as_jobs_1(kb, tmp_path):
    paths = write_cases(tmp_path / "cases", generated(kb, batch.MIN_POOL_CASES * 2 + 7, seed=5))
    one = hipkb("run", tmp_path / "cases", "--jobs", "1")
    two = hipkb("run", tmp_path / "cases", "--jobs", "2")
    assert one.returncode == two.returncode == 0, two.stderr
    assert one.stdout == two.stdout
    assert len(one.stdout.splitlines()) == len(paths)
    assert ids(one.stdout) == sorted(p.stem for p in paths)


def test_library_process_yields_outcomes_in_input_order(kb, tmp_path):
    paths = write_cases(tmp_path, generated(kb, batch.MIN_POOL_CASES + 5, seed=6))
    (tmp_path / "zz-broken.json").write_text("{", encoding="utf-8")
    outcomes = list(batch.process(expand([str(tmp_path)]), batch.Settings(), jobs=2, chunksize=4))
    assert [o.index for o in outcomes] == list(range(len(paths) + 1))
    assert [o.case_id for o in outcomes[:-1]] == [p.stem for p in sorted(paths)]
    assert all(o.ok and o.text and o.triage for o in outcomes[:-1])
    assert not outcomes[-1].ok and outcomes[-1].error["file"].endswith("zz-broken.json")


# -- bad cases -------------------------------------------------------------------

def test_corrupted_cases_stop_nothing(kb, tmp_path):
    rng = random.Random(7)
    cases = generated(kb, 200, seed=7)
    bad: dict[str, str] = {}
    for case in rng.sample(cases, 10):  # 5%
        how = len(bad) % 3
        if how == 0:
            case["pain"] = {**case.get("pain", {}), "regions": ["nowhere"]}
            bad[case["case_id"]] = "pain.regions[0]"
        elif how == 1:
            case["exam"] = {"no_such_test": "painful"}
            bad[case["case_id"]] = "exam.no_such_test"
        else:
            case["runner"] = {"age": 7}
            bad[case["case_id"]] = "runner.age"
    write_cases(tmp_path / "cases", cases)
    (tmp_path / "cases" / "broken-syntax.json").write_text('{"pain": ', encoding="utf-8")
    errors = tmp_path / "errors.jsonl"
    result = hipkb("run", tmp_path / "cases", "--jobs", "2", "--errors", errors)
    assert result.returncode == 1
    good = sorted(c["case_id"] for c in cases if c["case_id"] not in bad)
    assert ids(result.stdout) == good  # every good case, in order
    listed = [json.loads(line) for line in errors.read_text(encoding="utf-8").splitlines()]
    assert set(listed[0]) == {"file", "field", "error"}
    by_file = {Path(e["file"]).stem: e for e in listed}
    assert set(by_file) == {*bad, "broken-syntax"}
    for case_id, field in bad.items():
        assert by_file[case_id]["field"] == field
        assert f"{case_id}.json: {field}: " in result.stderr.decode()
    assert "broken-syntax.json" in result.stderr.decode()
    stderr = result.stderr.decode()
    assert "hipkb: 201 cases: 190 ran, 11 failed" in stderr
    assert f"failures: 11, listed in {errors}" in stderr


def test_a_single_bad_case_alone_exits_2(cli, tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("pain: {regions: [nowhere]}\n", encoding="utf-8")
    errors = tmp_path / "errors.jsonl"
    result = cli("run", path, "--errors", errors)
    assert result.exit_code == 2
    assert "pain.regions[0]" in result.stderr
    assert "cases:" not in result.stderr  # no summary for one case
    assert json.loads(errors.read_text(encoding="utf-8"))["field"] == "pain.regions[0]"


def test_errors_file_is_empty_when_nothing_failed(cli, tmp_path):
    errors = tmp_path / "errors.jsonl"
    result = cli("run", CASES[0], CASES[1], "--errors", errors)
    assert result.exit_code == 0
    assert errors.read_text(encoding="utf-8") == ""


# -- output files ------------------------------------------------------------------

def test_output_dir_one_file_per_case_safe_names_atomic(cli, kb, tmp_path):
    cases = generated(kb, 5, seed=8)
    cases[0]["case_id"] = "../../escape"
    cases[1]["case_id"] = "<script>alert(1)</script>"
    cases[2]["case_id"] = "same"
    cases[3]["case_id"] = "same"
    inputs = tmp_path / "in"
    inputs.mkdir()
    for index, case in enumerate(cases):
        (inputs / f"case{index}.json").write_text(json.dumps(case), encoding="utf-8")
    out = tmp_path / "out"
    out.mkdir()
    result = cli("run", inputs, "-o", out)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    written = sorted(p.name for p in out.iterdir())
    assert written == sorted(["escape.json", "script_alert_1_script.json", "same.json", "same-2.json",
                              f"{cases[4]['case_id']}.json"])
    assert not list(tmp_path.glob("*.json")) and not list(tmp_path.parent.glob("escape*"))
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temporary files left
    for path in out.iterdir():
        assert json.loads(path.read_text(encoding="utf-8"))["format"] == "hipkb-result/1"


def test_output_dir_never_overwrites_an_input(cli, kb, tmp_path):
    cases = generated(kb, 3, seed=9)
    paths = write_cases(tmp_path, cases)  # gen-0000.json ... in the output directory itself
    before = {p: p.read_bytes() for p in paths}
    result = cli("run", tmp_path, "-o", tmp_path)
    assert result.exit_code == 0, result.stderr
    assert {p: p.read_bytes() for p in paths} == before
    assert sorted(p.name for p in tmp_path.glob("*-2.json")) == [f"{c['case_id']}-2.json" for c in cases]


def test_output_directory_for_several_cases_is_created_when_missing(cli, tmp_path):
    out = tmp_path / "missing" / "reports"
    result = cli("run", CASES[0], CASES[1], "-o", out, "--format", "md")
    assert result.exit_code == 0, result.stderr
    assert sorted(p.name for p in out.iterdir()) == sorted(f"{p.stem}.md" for p in (CASES[0], CASES[1]))
    # A file there is not a directory.
    afile = tmp_path / "afile"
    afile.write_text("keep me")
    result = cli("run", CASES[0], CASES[1], "-o", afile)
    assert result.exit_code == 2 and "with several cases, -o must name a directory" in result.stderr
    assert afile.read_text() == "keep me"


def test_output_directory_is_never_created_through_a_symbolic_link(cli, tmp_path):
    target = tmp_path / "elsewhere"
    link = tmp_path / "out"
    link.symlink_to(target)  # dangling: creating "out" would create "elsewhere"
    result = cli("run", CASES[0], CASES[1], "-o", link)
    assert result.exit_code == 2
    assert "is a symbolic link; refusing to create a directory through it" in result.stderr
    assert not target.exists()


def test_markdown_reports_per_case(cli, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    result = cli("run", CASES[0], CASES[1], "-o", out, "--format", "md")
    assert result.exit_code == 0, result.stderr
    reports = sorted(out.iterdir())
    assert [p.suffix for p in reports] == [".md", ".md"]
    for report in reports:
        text = report.read_text(encoding="utf-8")
        assert text.startswith(f"# Hip pain in a runner: {report.stem}")
        assert "## Triage and running advice" in text


def test_input_guard_knows_inputs_without_listing_them(tmp_path):
    for name in ("d/sub/x.json", "d/x.md", "d/.hidden/x.json", "one.yaml", "other.json"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("{}")
    guard = InputGuard([str(tmp_path / "d"), str(tmp_path / "one.yaml"), "-"])
    assert guard(tmp_path / "one.yaml")
    assert guard(tmp_path / "d" / "sub" / "x.json")
    assert not guard(tmp_path / "d" / "sub" / "not-yet-there.json")
    assert not guard(tmp_path / "d" / "x.md")
    assert not guard(tmp_path / "d" / ".hidden" / "x.json")
    assert not guard(tmp_path / "other.json")
    assert guard.within_inputs(tmp_path / "d" / "sub") and not guard.within_inputs(tmp_path)


def test_reports_written_among_inputs_are_not_read_back(cli, kb, tmp_path):
    first, second = tmp_path / "a", tmp_path / "b"
    write_cases(first, generated(kb, 3, seed=12))
    write_cases(second, [{**c, "case_id": f"b-{c['case_id']}"} for c in generated(kb, 2, seed=13)])
    result = cli("run", first, second, "-o", second)
    assert result.exit_code == 0, result.stderr
    assert "5 cases: 5 ran, 0 failed" in result.stderr
    assert len(list(second.glob("*.json"))) == 2 + 5


# -- summary and progress ----------------------------------------------------------

def test_summary_counts_top_hypotheses_and_triage(kb, tmp_path):
    cases = generated(kb, 30, seed=10)
    write_cases(tmp_path, cases)
    err = io.StringIO()
    out = io.StringIO()
    summary = batch.run([str(tmp_path)], batch.Settings(), jobs=1, stdout=out, stderr=err, progress=False)
    results = [json.loads(line) for line in out.getvalue().splitlines()]
    assert summary.total == 30 and summary.failed == 0
    assert sum(summary.triage.values()) == 30
    expected_tops: dict[str, int] = {}
    for r in results:
        top = r["hypotheses"][0]["id"] if r["hypotheses"] else "(none)"
        expected_tops[top] = expected_tops.get(top, 0) + 1
    assert dict(summary.top) == expected_tops
    text = err.getvalue()
    assert text.startswith("hipkb: 30 cases: 30 ran, 0 failed\n")
    assert "  triage: " in text and "  top hypothesis: " in text


def test_progress_only_when_asked_or_on_a_terminal(kb, tmp_path):
    write_cases(tmp_path, generated(kb, 4, seed=11))
    err = io.StringIO()  # not a terminal
    batch.run([str(tmp_path)], batch.Settings(), jobs=1, stdout=io.StringIO(), stderr=err)
    assert "\r" not in err.getvalue()


def test_errors_into_a_pipe_streams_into_it(tmp_path):
    """--errors /dev/stderr writes into the pipe; it never replaces the device with a file."""
    result = hipkb("run", CASES[0], tmp_path / "missing.yaml", "--errors", "/dev/stderr")
    assert result.returncode == 1
    lines = [line for line in result.stderr.decode().splitlines() if line.startswith("{")]
    assert json.loads(lines[0]) == {"file": str(tmp_path / "missing.yaml"), "field": "", "error": "no such file"}
    assert Path("/dev/stderr").is_symlink()  # still the link to the stream, not a file put in its place


# -- issue 20: nothing lost, every failure names its case ------------------------

def _limited_run(args: list[str], stdout: Path, file_size: int) -> subprocess.CompletedProcess[bytes]:
    """``hipkb ARGS > stdout`` with no file allowed past *file_size* bytes (a disk that fills up)."""
    import resource

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (file_size, file_size))

    script = "import sys; from hipkb.cli import main; sys.exit(main())"
    with stdout.open("wb") as out:
        return subprocess.run([sys.executable, "-c", script, *args], stdout=out, stderr=subprocess.PIPE,
                              preexec_fn=limit, timeout=600)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="a file-size limit stands for a full disk")
@pytest.mark.parametrize("jobs", ["1", "2"])
def test_a_result_cut_short_on_stdout_is_a_failure_of_its_case(kb, tmp_path, jobs):
    paths = write_cases(tmp_path / "cases", generated(kb, 60, seed=5))
    out, errors = tmp_path / "out.jsonl", tmp_path / "errors.jsonl"
    ran = _limited_run(["run", str(tmp_path / "cases"), "--jobs", jobs, "--errors", str(errors)], out, 40_000)
    assert ran.returncode == 1
    whole, _, cut = out.read_bytes().rpartition(b"\n")
    assert cut  # the disk filled in the middle of a result
    written = ids(whole + b"\n")
    summary = [line for line in ran.stderr.decode().splitlines() if line.startswith("hipkb: 60 cases: ")]
    assert summary == [f"hipkb: 60 cases: {len(written)} ran, {60 - len(written)} failed"]  # whole results only
    failed = [json.loads(line) for line in errors.read_text(encoding="utf-8").splitlines()]
    assert {f["file"] for f in failed} == {str(p) for p in paths} - {str(tmp_path / "cases" / f"{i}.json")
                                                                      for i in written}
    assert all("<stdout>" in f["error"] for f in failed)
    # Every case missing from the output is named, so running just those completes it.
    again = hipkb("run", *sorted(f["file"] for f in failed), "--jobs", "1")
    assert again.returncode == 0
    assert sorted(written + ids(again.stdout)) == sorted(p.stem for p in paths)


def test_a_dangling_link_in_a_case_directory_is_a_listed_failure(cli, tmp_path):
    write_cases(tmp_path / "cases", [{"case_id": "fine", "pain": {"regions": ["groin"]}}], ".yaml")
    (tmp_path / "cases" / "gone.yaml").symlink_to(tmp_path / "nowhere.yaml")
    result = cli("run", tmp_path / "cases")
    assert result.exit_code == 1
    assert ids(result.stdout) == ["fine"]
    assert f"hipkb: {tmp_path / 'cases' / 'gone.yaml'}: no such file" in result.stderr
    assert "hipkb: 2 cases: 1 ran, 1 failed" in result.stderr


def _deeper_than_the_system_allows(top: Path) -> Path:
    """A directory under *top* whose path is longer than PATH_MAX (made step by step, relative to the last)."""
    import os

    name = "d" * 200
    fd = os.open(top, os.O_RDONLY)
    depth = 0
    try:
        while len(str(top)) + depth * (len(name) + 1) <= 4200:
            os.mkdir(name, dir_fd=fd)
            inner = os.open(name, os.O_RDONLY, dir_fd=fd)
            os.close(fd)
            fd = inner
            depth += 1
        inner = os.open("case.yaml", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd)
        os.write(inner, b"pain: {regions: [groin]}\n")
        os.close(inner)
    finally:
        os.close(fd)
    return top / name


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PATH_MAX of 4096")
def test_a_path_longer_than_the_system_allows_fails_alone(tmp_path):
    cases = tmp_path / "cases"
    write_cases(cases, [{"case_id": name, "pain": {"regions": ["groin"]}} for name in ("a", "z")], ".yaml")
    _deeper_than_the_system_allows(cases)
    result = hipkb("run", cases, "--jobs", "1")
    assert result.returncode == 1
    assert ids(result.stdout) == ["a", "z"]
    stderr = result.stderr.decode()
    assert "Traceback" not in stderr and "internal error" not in stderr
    assert "File name too long" in stderr
    assert "hipkb: 3 cases: 2 ran, 1 failed" in stderr


def test_a_case_id_taken_from_a_long_file_name_is_shortened(cli, tmp_path):
    long, longer = "r" * 236, "r" * 235 + "s"  # legal names (240 bytes with .yaml), same first 200 characters
    for stem in (long, longer):
        (tmp_path / f"{stem}.yaml").write_text("pain: {regions: [groin]}\n", encoding="utf-8")
    result = cli("run", tmp_path / f"{long}.yaml", tmp_path / f"{longer}.yaml")
    assert result.exit_code == 0, result.stderr
    first, second = ids(result.stdout)
    assert len(first) == len(second) == 200 and first != second
    assert first.startswith("r" * 190) and second.startswith("r" * 190)
    too_long = tmp_path / "given.yaml"
    too_long.write_text(f"case_id: {long}\npain: {{regions: [groin]}}\n", encoding="utf-8")
    refused = cli("run", too_long)  # an id written in the case is the writer's: still refused, not changed
    assert refused.exit_code == 2 and "case_id: longer than 200 characters" in refused.stderr


def test_a_finding_written_8_or_8_0_gives_the_same_bytes(cli, tmp_path):
    outputs = []
    for name, severity, weeks in (("a.yaml", "8", "2"), ("b.yaml", "8.0", "2.0"), ("c.json", "8.0", "2")):
        text = (f'{{"case_id": "x", "pain": {{"regions": ["groin"], "severity": {severity}}}, '
                f'"history": {{"weeks_since_onset": {weeks}, "onset": "gradual"}}, '
                f'"behaviour": {{"hopping": "painful", "during_run": "worsens"}}}}')
        (tmp_path / name).write_text(text, encoding="utf-8")
        outputs.append(cli("run", tmp_path / name).stdout)
    assert outputs[0] == outputs[1] == outputs[2]
    assert '"pain.severity=8"' in outputs[0]  # RUN-REDUCE-INTOLERABLE read it
