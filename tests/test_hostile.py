"""Issue 14, "lose nothing, hang never": each reproducer through the CLI in a real process.

Every test asserts the exit status, the one-line message, and that nothing
outside the intended output was written (a snapshot of the working folder
before and after). Speed is measured by ``benchmarks/hostile.py``, not here;
memory is asserted where the bug was memory.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CASE = ROOT / "facts" / "cases" / "fnbsi-classic.yaml"
GROIN = "pain:\n  regions: [groin]\n"

# Runs the CLI, then reports its own peak memory on the last line of stderr.
# The peak is the process's own (VmHWM of /proc/self/status): getrusage's
# ru_maxrss keeps across exec the high-water mark of the memory the process
# was forked from, so under a pytest that has grown it measured pytest.
_SCRIPT = """
import resource, sys
from hipkb.cli import main

def peak_kb():
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

try:
    main()
finally:
    sys.stderr.write(f"\\nmaxrss_kb={peak_kb()}\\n")
"""


class Ran:
    def __init__(self, proc: subprocess.CompletedProcess[bytes]) -> None:
        self.code = proc.returncode
        self.stdout = proc.stdout
        err = proc.stderr.decode("utf-8", "replace")
        body, _, peak = err.rstrip("\n").rpartition("\nmaxrss_kb=")
        self.maxrss_kb = int(peak) if peak.isdigit() else 0
        body = body.rstrip("\n")
        self.stderr = body + "\n" if body else ""

    @property
    def lines(self) -> list[str]:
        return self.stderr.splitlines()


def baseline_kb(work: Path) -> int:
    """Peak memory of hipkb reasoning about one small case, in this environment: what a bound is measured above."""
    ran = hipkb("run", "case.yaml", cwd=work)
    assert ran.code == 0 and ran.maxrss_kb > 0, ran.stderr
    return ran.maxrss_kb


# Memory a hostile input may cost above an ordinary run: the inputs below are
# 1 to 400 MB; a bound this size shows none of them is held whole.
EXTRA_KB = 120_000


def hipkb(*args: object, cwd: Path, stdin: object = None, umask: int | None = None) -> Ran:
    """The CLI in a process of its own; a process that hangs fails the test (timeout)."""
    def preexec() -> None:
        if umask is not None:
            os.umask(umask)

    command = [sys.executable, "-c", _SCRIPT,
               *(a if isinstance(a, bytes) else str(a) for a in args)]
    kwargs: dict[str, object] = {"input": stdin} if isinstance(stdin, bytes) else {
        "stdin": subprocess.DEVNULL if stdin is None else stdin}
    proc = subprocess.run(command, capture_output=True, cwd=cwd, timeout=120, preexec_fn=preexec,
                          **kwargs)  # type: ignore[call-overload]
    return Ran(proc)


def snapshot(root: Path) -> dict[str, tuple[str, str]]:
    """Every entry under *root*: its kind and content (a link's target, a file's hash)."""
    found: dict[str, tuple[str, str]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in [*dirnames, *filenames]:
            path = Path(dirpath) / name
            rel = str(path.relative_to(root))
            if path.is_symlink():
                found[rel] = ("link", os.readlink(path))
            elif path.is_file():
                found[rel] = ("file", hashlib.sha256(path.read_bytes()).hexdigest())
            elif path.is_dir():
                found[rel] = ("dir", "")
            else:
                found[rel] = ("other", "")
    return found


def changed(before: dict[str, tuple[str, str]], after: dict[str, tuple[str, str]]) -> set[str]:
    return {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)}


def one_line(ran: Ran, *parts: str) -> str:
    """The first hipkb: line of stderr, which must hold every part and no traceback."""
    assert "Traceback" not in ran.stderr, ran.stderr
    assert "internal error" not in ran.stderr, ran.stderr
    line = next((line for line in ran.lines if line.startswith("hipkb: ")), "")
    for part in parts:
        assert part in line, (part, ran.stderr)
    return line


@pytest.fixture
def work(tmp_path: Path) -> Path:
    shutil.copy(CASE, tmp_path / "case.yaml")
    return tmp_path


def other_case(directory: Path, case_id: str = "other") -> Path:
    path = directory / f"{case_id}.yaml"
    path.write_text(CASE.read_text(encoding="utf-8").replace("case_id: fnbsi-classic", f"case_id: {case_id}"),
                    encoding="utf-8")
    return path


# -- data loss -----------------------------------------------------------------

def test_stdin_read_from_the_output_file_is_refused(work):
    before = snapshot(work)
    with open(work / "case.yaml", "rb") as stdin:
        ran = hipkb("run", "-", "-o", "case.yaml", cwd=work, stdin=stdin)
    assert ran.code == 2
    one_line(ran, "case.yaml", "refusing to overwrite an input case file")
    assert changed(before, snapshot(work)) == set()


def test_a_link_planted_in_the_output_directory_is_not_followed(work):
    other_case(work)
    (work / "out").mkdir()
    (work / "victim.txt").write_text("keep me\n", encoding="utf-8")
    (work / "out" / "fnbsi-classic.json").symlink_to("../victim.txt")
    before = snapshot(work)
    ran = hipkb("run", "case.yaml", "other.yaml", "-o", "out", "--errors", "errors.jsonl", cwd=work)
    assert ran.code == 1
    one_line(ran, "out/fnbsi-classic.json", "symbolic link")
    assert "2 cases: 1 ran, 1 failed" in ran.stderr
    assert (work / "victim.txt").read_text(encoding="utf-8") == "keep me\n"
    assert changed(before, snapshot(work)) == {"out/other.json", "errors.jsonl"}
    listed = [json.loads(line) for line in (work / "errors.jsonl").read_text(encoding="utf-8").splitlines()]
    # The failure names its case, to run it again; the message says which output it could not write.
    assert [e["file"] for e in listed] == ["case.yaml"]
    assert listed[0]["error"].startswith("result not written: out/fnbsi-classic.json: is a symbolic link")


def test_output_and_errors_naming_one_file_are_refused(work):
    (work / "same.out").write_text("before\n", encoding="utf-8")
    before = snapshot(work)
    ran = hipkb("run", "case.yaml", "-o", "same.out", "--errors", "./same.out", cwd=work)
    assert ran.code == 2
    one_line(ran, "same.out", "the same file as -o")
    assert changed(before, snapshot(work)) == set()


def test_output_files_take_the_umask_and_a_replaced_file_keeps_its_mode(work):
    ran = hipkb("run", "case.yaml", "-o", "new.json", cwd=work, umask=0o027)
    assert ran.code == 0, ran.stderr
    assert stat.S_IMODE((work / "new.json").stat().st_mode) == 0o640
    kept = work / "kept.json"
    kept.write_text("{}\n", encoding="utf-8")
    kept.chmod(0o644)
    ran = hipkb("run", "case.yaml", "-o", "kept.json", cwd=work, umask=0o077)
    assert ran.code == 0, ran.stderr
    assert stat.S_IMODE(kept.stat().st_mode) == 0o644
    assert json.loads(kept.read_text(encoding="utf-8"))["case_id"] == "fnbsi-classic"
    (work / "bad.yaml").write_text("pain: {regions: [ankle]}\n", encoding="utf-8")
    (work / "out").mkdir()
    ran = hipkb("run", "case.yaml", "bad.yaml", "-o", "out", "--errors", "errors.jsonl", cwd=work, umask=0o022)
    assert ran.code == 1
    assert stat.S_IMODE((work / "errors.jsonl").stat().st_mode) == 0o644
    assert stat.S_IMODE((work / "out" / "fnbsi-classic.json").stat().st_mode) == 0o644


@pytest.mark.parametrize("case_id", ["CON", "com1", "Lpt9.notes", "nul", "aux.x.y", "PRN"])
def test_windows_device_names_are_never_output_names(work, case_id):
    (work / "case.yaml").unlink()
    other_case(work, "plain")
    (work / "device.yaml").write_text(f"case_id: '{case_id}'\n{GROIN}", encoding="utf-8")
    (work / "out").mkdir()
    ran = hipkb("run", "plain.yaml", "device.yaml", "-o", "out", cwd=work)
    assert ran.code == 0, ran.stderr
    reserved = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(10)), *(f"LPT{i}" for i in range(10))}
    names = sorted(p.name for p in (work / "out").iterdir())
    assert len(names) == 2
    assert all(name.split(".")[0].upper() not in reserved for name in names), names


# -- crashes and wrong exits -------------------------------------------------------

@pytest.mark.parametrize(("name", "text", "field"), [
    ("lone.json", '{"case_id": "a\\ud800b", "pain": {"regions": ["groin"]}}', "case_id"),
    ("low.json", '{"case_id": "a\\udc80b", "pain": {"regions": ["groin"]}}', "case_id"),
    ("lone.yaml", 'case_id: "a\\ud800b"\n' + GROIN, "case_id"),
    ("deep.yaml", GROIN + 'history:\n  notes: "x\\udfffy"\n', "history.notes"),
])
def test_lone_surrogates_are_refused_at_load(work, name, text, field):
    (work / name).write_text(text, encoding="utf-8")
    before = snapshot(work)
    ran = hipkb("run", name, cwd=work)
    assert ran.code == 2
    one_line(ran, name, f": {field}: ", "lone surrogate")
    assert changed(before, snapshot(work)) == set()


def test_a_lone_surrogate_in_a_batch_is_one_failed_case(work):
    (work / "in").mkdir()
    shutil.copy(work / "case.yaml", work / "in" / "a.yaml")
    (work / "in" / "b.json").write_text('{"case_id": "a\\ud800b", "pain": {"regions": ["groin"]}}',
                                        encoding="utf-8")
    other_case(work / "in", "c")
    ran = hipkb("run", "in", "--errors", "errors.jsonl", cwd=work)
    assert ran.code == 1
    one_line(ran, "b.json", "case_id")
    assert "3 cases: 2 ran, 1 failed" in ran.stderr
    assert [json.loads(line)["case_id"] for line in ran.stdout.decode().splitlines()] == ["fnbsi-classic", "c"]
    assert len((work / "errors.jsonl").read_text(encoding="utf-8").splitlines()) == 1


def test_a_case_id_that_is_not_utf8_is_refused(work):
    ran = hipkb("interview", "-q", "--case-id", b"\xff\xfe", cwd=work, stdin=b"groin\n")
    assert ran.code == 2
    one_line(ran, "--case-id", "not valid UTF-8")


def test_writing_to_a_full_disk_is_one_line(work):
    before = snapshot(work)
    ran = hipkb("run", "case.yaml", "-o", "/dev/full", cwd=work)
    assert ran.code == 1
    one_line(ran, "/dev/full", "No space left on device")
    with open("/dev/full", "wb") as full:
        proc = subprocess.run([sys.executable, "-c", _SCRIPT, "run", "case.yaml"], stdout=full,
                              stderr=subprocess.PIPE, cwd=work, timeout=120)
    ran = Ran(subprocess.CompletedProcess(proc.args, proc.returncode, b"", proc.stderr))
    assert ran.code == 1
    one_line(ran, "<stdout>", "No space left on device")
    assert changed(before, snapshot(work)) == set()


@pytest.mark.parametrize("args", [["schema"], ["validate", "case.yaml"], ["rules", "list"]])
def test_any_command_writing_to_a_full_disk_says_so_in_one_line(work, args):
    with open("/dev/full", "wb") as full:
        proc = subprocess.run([sys.executable, "-c", _SCRIPT, *args], stdout=full, stderr=subprocess.PIPE,
                              cwd=work, timeout=120)
    ran = Ran(subprocess.CompletedProcess(proc.args, proc.returncode, b"", proc.stderr))
    assert ran.code == 1
    assert ran.lines == ["hipkb: cannot write the output (No space left on device)"]


def test_a_batch_with_a_full_disk_goes_on_and_lists_every_case(work):
    other_case(work)
    (work / "bad.yaml").write_text("pain: {regions: [ankle]}\n", encoding="utf-8")
    (work / "out").mkdir()
    ran = hipkb("run", "case.yaml", "bad.yaml", "other.yaml", "-o", "out", "--errors", "/dev/full", cwd=work)
    assert ran.code == 1
    assert "3 cases: 2 ran, 1 failed" in ran.stderr
    assert ran.lines[-1] == "hipkb: /dev/full: cannot be written (No space left on device)"
    assert sorted(p.name for p in (work / "out").iterdir()) == ["fnbsi-classic.json", "other.json"]
    with open("/dev/full", "wb") as full:
        proc = subprocess.run([sys.executable, "-c", _SCRIPT, "run", "case.yaml", "other.yaml"], stdout=full,
                              stderr=subprocess.PIPE, cwd=work, timeout=120)
    ran = Ran(subprocess.CompletedProcess(proc.args, proc.returncode, b"", proc.stderr))
    assert ran.code == 1
    assert "2 cases: 0 ran, 2 failed" in ran.stderr
    # Each failure names its case, so that the cases can be run again.
    assert [line for line in ran.lines if "<stdout>" in line] == [
        f"hipkb: {name}: result not written: <stdout>: cannot be written (No space left on device)"
        for name in ("case.yaml", "other.yaml")]


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root writes into any folder")
def test_a_folder_without_write_permission_is_one_failed_case_per_report(work):
    other_case(work)
    (work / "out").mkdir()
    (work / "out").chmod(0o555)
    try:
        ran = hipkb("run", "case.yaml", "other.yaml", "-o", "out", cwd=work)
    finally:
        (work / "out").chmod(0o755)
    assert ran.code == 1
    one_line(ran, "out/", "Permission denied")
    assert "2 cases: 0 ran, 2 failed" in ran.stderr
    assert list((work / "out").iterdir()) == []


@pytest.mark.skipif(not Path("/sys/kernel").is_dir(), reason="no sysfs here")
def test_a_folder_that_refuses_new_files_even_to_root_is_one_failed_case(work):
    # sysfs takes no new files, whoever asks (EACCES, or EROFS where it is mounted read-only).
    other_case(work)
    ran = hipkb("run", "case.yaml", "other.yaml", "-o", "/sys/kernel", "--errors", "errors.jsonl", cwd=work)
    assert ran.code == 1
    one_line(ran, "/sys/kernel/fnbsi-classic.json", "cannot be written (")
    assert "2 cases: 0 ran, 2 failed" in ran.stderr
    listed = [json.loads(line)["file"] for line in (work / "errors.jsonl").read_text(encoding="utf-8").splitlines()]
    assert listed == ["case.yaml", "other.yaml"]  # each failure names its case, to run it again


def test_a_superscript_digit_answer_is_a_clear_error(work):
    ran = hipkb("interview", "-q", cwd=work, stdin="²\n".encode())
    assert ran.code == 2
    one_line(ran, "<stdin>", "pain.regions", "found '²'")


def test_a_ten_megabyte_answer_is_not_echoed_whole(work):
    ran = hipkb("interview", cwd=work, stdin=b"x" * 10_000_000 + b"\n")
    assert ran.code == 2
    one_line(ran, "<stdin>", "pain.regions", "...")
    assert len(ran.stderr) < 5_000


@pytest.mark.parametrize(("edit", "where"), [
    (("    fields:\n", "    fields:\n      self: {type: text}\n", 1), "groups.runner.fields.self"),
    (("  systemic:\n", "  a.b:\n    fields: {x: {type: text}}\n  systemic:\n", 1), "groups.a.b"),
])
@pytest.mark.parametrize("command", ["run", "check"])
def test_a_vocabulary_name_that_cannot_be_a_slot_is_refused(work, edit, where, command):
    facts = work / "facts"
    facts.mkdir()
    text = (ROOT / "facts" / "vocabulary.yaml").read_text(encoding="utf-8")
    assert edit[0] in text
    (facts / "vocabulary.yaml").write_text(text.replace(*edit), encoding="utf-8")
    args = ["run", "case.yaml"] if command == "run" else ["check"]
    ran = hipkb(*args, "--facts", "facts", cwd=work)
    assert ran.code == 2
    one_line(ran, "vocabulary.yaml", where, "name")


def _run_fed(work: Path, parts: list[bytes | int]) -> Ran:
    """``hipkb run -`` fed *parts* through a pipe: bytes as they are, an int as that many bytes of "a"."""
    with open(work / "stdout", "w+b") as out, open(work / "stderr", "w+b") as err:
        proc = subprocess.Popen([sys.executable, "-c", _SCRIPT, "run", "-"], stdin=subprocess.PIPE,
                                stdout=out, stderr=err, cwd=work)
        chunk = b"a" * (1 << 20)
        try:
            for part in parts:
                for piece in ([part] if isinstance(part, bytes) else [chunk] * (part >> 20)):
                    proc.stdin.write(piece)  # type: ignore[union-attr]
            proc.stdin.close()  # type: ignore[union-attr]
        except OSError:
            pass  # refused before reading it all: that is the point
        proc.wait(timeout=300)
        out.seek(0)
        err.seek(0)
        ran = Ran(subprocess.CompletedProcess(proc.args, proc.returncode, out.read(), err.read()))
    (work / "stdout").unlink()
    (work / "stderr").unlink()
    return ran


def test_a_400_megabyte_stdin_line_is_refused_with_bounded_memory(work):
    ran = _run_fed(work, [400 << 20])
    assert ran.code == 2
    one_line(ran, "<stdin>", "larger than the 1000000 bytes allowed")
    assert 0 < ran.maxrss_kb < baseline_kb(work) + EXTRA_KB, ran.maxrss_kb


def test_a_long_json_lines_line_is_one_failed_case_with_bounded_memory(work):
    good = b'{"case_id": "a", "pain": {"regions": ["groin"]}}\n'
    ran = _run_fed(work, [good, b"{", 64 << 20, b"\n", good.replace(b'"a"', b'"b"')])
    assert ran.code == 1
    one_line(ran, "<stdin>:2", "larger than the 1000000 bytes allowed")
    assert "3 cases: 2 ran, 1 failed" in ran.stderr
    assert [json.loads(line)["case_id"] for line in ran.stdout.decode().splitlines()] == ["a", "b"]
    assert 0 < ran.maxrss_kb < baseline_kb(work) + EXTRA_KB, ran.maxrss_kb


def test_a_megabyte_case_file_holding_one_tab_is_refused(work):
    lines = "".join(f"k{i}: v\n" for i in range(98_000))
    (work / "tab.yaml").write_text("case_id: x\n" + lines + "z: \tq: 1\n", encoding="utf-8")
    (work / "tab2.yaml").write_text("case_id: x\n" + lines + "z:\tq\n", encoding="utf-8")
    baseline = baseline_kb(work)
    for name, words in (("tab.yaml", "not valid YAML"), ("tab2.yaml", "unknown group")):
        ran = hipkb("validate", name, cwd=work)
        assert ran.code == 2
        one_line(ran, name, words)
        assert ran.maxrss_kb < baseline + EXTRA_KB, (ran.maxrss_kb, baseline)


@pytest.mark.parametrize("written", ["1:30", "0x22", "017", "1_000", ".inf", "-.inf", ".nan", "+0x1", "1:30:00"])
def test_yaml_11_number_forms_are_refused(work, written):
    (work / "odd.yaml").write_text(GROIN + f"runner:\n  age: {written}\n", encoding="utf-8")
    ran = hipkb("validate", "odd.yaml", cwd=work)
    assert ran.code == 2
    one_line(ran, "odd.yaml", "runner.age", "plain decimal", repr(written))


def test_a_yaml_12_octal_is_text_not_a_number(work):
    # PyYAML reads YAML 1.1, where 0o17 is not a number at all: it stays text, refused as such.
    (work / "odd.yaml").write_text(GROIN + "runner:\n  age: 0o17\n", encoding="utf-8")
    ran = hipkb("validate", "odd.yaml", cwd=work)
    assert ran.code == 2
    one_line(ran, "odd.yaml", "runner.age", "found '0o17'")


def test_plain_decimal_numbers_still_read(work):
    (work / "plain.yaml").write_text("pain:\n  regions: [groin]\n  severity: 6.5\nrunner:\n  age: 34\n",
                                     encoding="utf-8")
    ran = hipkb("validate", "plain.yaml", cwd=work)
    assert ran.code == 0, ran.stderr


# -- terminal and file hygiene -------------------------------------------------------

def test_validate_escapes_a_case_id_and_cannot_be_forged(work):
    (work / "evil.yaml").write_text(
        'case_id: "x\\e]0;title\\a\\e[31mred\\nevil.yaml: ok (y)\\u202eabc"\n' + GROIN, encoding="utf-8")
    ran = hipkb("validate", "evil.yaml", cwd=work)
    assert ran.code == 0, ran.stderr
    out = ran.stdout.decode()
    assert out.count("\n") == 1 and out.startswith("evil.yaml: ok (")
    assert "\x1b" not in out and "\x07" not in out and "\u202e" not in out
    assert "\\x1b" in out and "\\n" in out and "\\u202e" in out


@pytest.mark.parametrize("fmt", ["html", "md", "txt"])
def test_reports_hold_no_raw_control_or_bidi_character(work, fmt):
    (work / "evil.json").write_text(json.dumps({
        "case_id": "a\x1b[31m\x00b\u202ec\x07", "pain": {"regions": ["groin"]},
    }), encoding="utf-8")
    ran = hipkb("run", "evil.json", "--format", fmt, "--audience", "educator", cwd=work)
    assert ran.code == 0, ran.stderr
    out = ran.stdout.decode()
    assert "31m" in out and "bc" in out
    for char in ("\x1b", "\x00", "\u202e", "\x07"):
        assert char not in out, (fmt, char)


def test_the_interview_echoes_answers_escaped(work):
    ran = hipkb("interview", cwd=work, stdin=b"groin \x1b[2J\xe2\x80\xae\n")
    assert ran.code == 2
    assert "\x1b" not in ran.stderr and "\u202e" not in ran.stderr
    assert "> groin \\x1b[2J\\u202e" in ran.stderr


# -- non-regular inputs --------------------------------------------------------------

@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_a_fifo_among_the_rules_does_not_block(work):
    shutil.copytree(ROOT / "rules", work / "rules")
    os.mkfifo(work / "rules" / "zz.yaml")
    ran = hipkb("run", "case.yaml", "--rules", "rules", cwd=work)
    assert ran.code == 2
    one_line(ran, "zz.yaml", "not a regular file (a FIFO)")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_a_fifo_given_as_a_case_does_not_block(work):
    os.mkfifo(work / "pipe.yaml")
    ran = hipkb("run", "pipe.yaml", cwd=work)
    assert ran.code == 2
    one_line(ran, "pipe.yaml", "not a regular file (a FIFO)")


# -- templates under limits ----------------------------------------------------------

HOSTILE_TEMPLATES = {
    "nested-loops": "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
    "squaring": "{% set ns = namespace(x=2) %}{% for i in range(100) %}{% set ns.x = ns.x * ns.x %}"
                "{% endfor %}{{ ns.x }}",
    "power": "{% set ns = namespace(x=3) %}{% for i in range(100) %}{% set ns.x = ns.x ** 2 %}{% endfor %}",
    "doubling": "{% set ns = namespace(s='ab') %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}"
                "{% endfor %}{{ ns.s|length }}",
    "doubling-plus": "{% set ns = namespace(s='ab') %}{% for i in range(40) %}{% set ns.s = ns.s + ns.s %}"
                     "{% endfor %}",
    "64mb-line": "{% for i in range(100000) %}" + "x" * 700 + "{% endfor %}",
    "64mb-values": "{% for i in range(100000) %}{{ 'x' * 700 }}{% endfor %}",
    "center": "{{ 'a'|center(999999999) }}",
    "percent-width": "{{ '%0999999999d' % 1 }}",
    "format-width": "{{ '{:>999999999}'.format(1) }}",
    "replace": "{% set ns = namespace(s='aaaaaaaaaa') %}{% for i in range(20) %}"
               "{% set ns.s = ns.s.replace('a', 'aaaaaaaaaa') %}{% endfor %}",
    "join": "{% set l = ['x' * 100000] * 1000 %}{{ l|join }}",
    "set-block": "{% set x %}{% for i in range(100000) %}{% for j in range(100) %}abc{% endfor %}"
                 "{% endfor %}{% endset %}{{ x|length }}",
    "repr-of-a-list": "{% set l = ['x' * 999999] * 999999 %}{{ l }}",
    "concat-of-a-list": "{% set l = ['x' * 999999] * 999999 %}{{ l ~ '' }}",
    "namespace-repr": "{% set ns = namespace(l=['x' * 999999] * 999999) %}{{ ns|string }}",
    "recursion": "{% macro f(n) %}{% if n > 0 %}{{ f(n-1) }}{{ f(n-1) }}{% endif %}{% endmacro %}{{ f(40) }}",
}


@pytest.mark.parametrize("name", sorted(HOSTILE_TEMPLATES))
def test_a_hostile_template_stops_with_one_line_naming_it(work, name):
    templates = work / "templates"
    templates.mkdir()
    (templates / "report.md.j2").write_text(HOSTILE_TEMPLATES[name], encoding="utf-8")
    before = snapshot(work)
    ran = hipkb("run", "case.yaml", "--format", "md", "--templates", "templates", "-o", "report.md", cwd=work)
    assert ran.code == 2
    one_line(ran, "report.md.j2", "template stopped")
    assert len(ran.lines) == 1
    assert ran.maxrss_kb < 300_000, ran.maxrss_kb
    assert changed(before, snapshot(work)) == set()  # no report, no temporary file


def test_template_limits_hold_in_a_thread(kb, reasoner, tmp_path):
    from hipkb.report.render import ReportError, render
    from hipkb.results.result import build_result

    (tmp_path / "report.md.j2").write_text(HOSTILE_TEMPLATES["nested-loops"], encoding="utf-8")
    case = __import__("hipkb.api", fromlist=["load_case"]).load_case(CASE, kb)
    inference = reasoner.infer(case)
    result = build_result(kb, inference)
    caught: list[BaseException] = []

    def work() -> None:
        try:
            render(kb, inference, result, fmt="md", templates=tmp_path)
        except BaseException as error:
            caught.append(error)

    thread = threading.Thread(target=work)
    thread.start()
    thread.join(timeout=120)
    assert not thread.is_alive()
    assert len(caught) == 1 and isinstance(caught[0], ReportError), caught
    assert "template stopped" in str(caught[0]) and "report.md.j2" in str(caught[0])
