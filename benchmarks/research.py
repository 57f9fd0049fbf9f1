"""What the research tools cost on the shipped rule base (issue 23).

Run from the project root::

    python benchmarks/research.py                   # mutants on 2 jobs, sensitivity, evaluate, compare
    python benchmarks/research.py --jobs 1          # the mutants on one process
    python benchmarks/research.py --only mutants    # one of: mutants, sensitivity, evaluate, compare
    python benchmarks/research.py --expect ../shared/cases-reviewed/expect.yaml   # mutants with labelled cases too

Each command runs in a new process, as a user runs it; the table gives wall
time, CPU time (user + system of the process and its workers), the load
average while it ran (the machine may be shared: wall time then says little,
CPU time still does) and the command's first line. Target: ``hipkb check
--mutants`` on the shipped base within 10 minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def hipkb_command() -> list[str]:
    """The installed ``hipkb`` script beside this Python, else the CLI through ``python -c``."""
    script = Path(sys.executable).with_name("hipkb")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "import sys; from hipkb.cli import main; sys.exit(main())"]


def timed(args: list[str], timeout: float) -> tuple[float, float, float, str]:
    """Wall and CPU seconds of one run, the mean 1-minute load average while it ran, and its first line."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    load_before = os.getloadavg()[0]
    try:
        done = subprocess.run(args, capture_output=True, text=True, timeout=timeout, check=False)
        first = (done.stdout.splitlines() or [done.stderr.strip()[-200:]])[0]
    except subprocess.TimeoutExpired:
        first = f"stopped after {timeout:.0f} s"
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, (load_before + os.getloadavg()[0]) / 2, first


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=2, help="worker processes for the mutants (default: 2)")
    parser.add_argument("--only", choices=("mutants", "sensitivity", "evaluate", "compare"), default=None)
    parser.add_argument("--expect", default=None, help="an expectations file: the mutants check its cases too")
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds allowed per run (default: 1800)")
    options = parser.parse_args(argv)
    command = hipkb_command()
    cases = ROOT / "facts" / "cases"
    reviewed = ROOT / "facts" / "cases" / "published" / "reviewed"  # expectations embedded in each case
    runs: list[tuple[str, list[str]]] = []
    mutants = [*command, "check", "--mutants", "--jobs", str(options.jobs)]
    if options.expect:
        mutants += ["--expect", options.expect]
    runs.append(("mutants", mutants))
    runs.append(("sensitivity", [*command, "sensitivity", str(cases)]))
    runs.append(("evaluate", [*command, "evaluate", str(reviewed)]))
    with tempfile.TemporaryDirectory(prefix="hipkb-research-bench-") as tmp:
        variant = Path(tmp) / "rules"
        subprocess.run(["cp", "-r", str(ROOT / "rules"), str(variant)], check=True)
        runs.append(("compare", [*command, "compare", "--rules", str(ROOT / "rules"), "--rules", str(variant),
                                 str(cases), "--generated", "500"]))
        print(f"hipkb research tools on the shipped rule base; Python {sys.version.split()[0]}, "
              f"{os.cpu_count()} cores")
        print(f"{'command':<12} {'wall s':>8} {'CPU s':>8} {'load':>5}  first line")
        for name, args in runs:
            if options.only and name != options.only:
                continue
            wall, cpu, load, first = timed(args, options.timeout)
            print(f"{name:<12} {wall:>8.1f} {cpu:>8.1f} {load:>5.1f}  {first[:110]}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
