"""How long, and how much memory, hipkb takes to refuse hostile inputs (issue 14).

Run from the project root::

    python benchmarks/hostile.py

Each line is one refusal through the CLI in a new process: wall seconds,
CPU seconds of the process (user + system) and its peak memory (max RSS).
The tests (``tests/test_hostile.py``) assert what happens; this prints how
fast. On a loaded machine wall time runs well above CPU time: the template
limit is on CPU seconds of the rendering thread.
"""

from __future__ import annotations

import contextlib
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CASE = ROOT / "facts" / "cases" / "fnbsi-classic.yaml"
# The CLI, then its own peak memory on the last line of stderr.
SCRIPT = """
import resource, sys
from hipkb.cli import main
try:
    main()
finally:
    sys.stderr.write(f"\\nmaxrss_kb={resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}\\n")
"""

TEMPLATES = {
    "nested loops 1e5 x 1e5": "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
    "squaring in a namespace": "{% set ns = namespace(x=2) %}{% for i in range(100) %}"
                               "{% set ns.x = ns.x * ns.x %}{% endfor %}",
    "string doubling": "{% set ns = namespace(s='ab') %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}"
                       "{% endfor %}",
    "64 MB on one line": "{% for i in range(100000) %}" + "x" * 700 + "{% endfor %}",
    "2^40 macro calls": "{% macro f(n) %}{% if n > 0 %}{{ f(n-1) }}{{ f(n-1) }}{% endif %}{% endmacro %}"
                        "{{ f(40) }}",
}


def measure(label: str, args: list[str], cwd: Path, stdin_bytes: int = 0) -> None:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", SCRIPT, *args], cwd=cwd, stdin=subprocess.PIPE,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    if stdin_bytes:
        chunk = b"a" * (1 << 20)
        try:
            for _ in range(stdin_bytes >> 20):
                proc.stdin.write(chunk)  # type: ignore[union-attr]
        except OSError:
            pass
    with contextlib.suppress(OSError):
        proc.stdin.close()  # type: ignore[union-attr]
    err = proc.stderr.read().decode("utf-8", "replace")  # type: ignore[union-attr]
    proc.wait()
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    body, _, peak = err.rstrip("\n").rpartition("\nmaxrss_kb=")
    message = body.strip().splitlines()[-1] if body.strip() else ""
    print(f"{label:33} exit {proc.returncode} {wall:6.2f} s wall {cpu:6.2f} s CPU "
          f"{int(peak or 0) / 1024:5.0f} MB peak | {message[:150]}")


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        (work / "case.yaml").write_text(CASE.read_text(encoding="utf-8"), encoding="utf-8")
        lines = "".join(f"k{i}: v\n" for i in range(98_000))
        (work / "tab.yaml").write_text("case_id: x\n" + lines + "z: \tq: 1\n", encoding="utf-8")
        os.mkfifo(work / "pipe.yaml")
        measure("FIFO as a case", ["run", "pipe.yaml"], work)
        measure("1 MB case with one tab", ["validate", "tab.yaml"], work)
        measure("400 MB stdin, no newline", ["run", "-"], work, stdin_bytes=400 << 20)
        for label, source in TEMPLATES.items():
            templates = work / label.replace(" ", "-").replace("^", "")
            templates.mkdir()
            (templates / "report.md.j2").write_text(source, encoding="utf-8")
            measure(f"template: {label}", ["run", "case.yaml", "--format", "md", "--templates", str(templates)],
                    work)


if __name__ == "__main__":
    main()
