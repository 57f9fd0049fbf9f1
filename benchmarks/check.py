"""How ``hipkb check`` grows with the size of the rule base (issue 14).

Run from the project root::

    python benchmarks/check.py                    # 500 to 10,000 rules, static checks
    python benchmarks/check.py --cases            # also the whole check: example cases and coverage
    python benchmarks/check.py --sizes 500,2000   # chosen sizes

For each size it writes a seeded synthetic rule base (``benchmarks/synthkb.py``,
the shipped manifest and vocabulary, seed 3) and times ``hipkb check --rules DIR
--no-cases`` (the static checks) in a new process: wall time, CPU time (user +
system of the child), CPU per 1,000 rules, and the growth exponent from the
size before (log of the time ratio over log of the size ratio: 1 is linear,
2 quadratic). With ``--cases`` it also times ``hipkb check --rules DIR``, which
runs the example cases against the synthetic rules and looks for cases that
fire the rules none of them fires (that part runs the engine once per case
tried, so it grows with rules times cases).

Rule files are split at 1,500 rules: the loader refuses a YAML file over
1 MB, and one file of 10,000 rules is larger. Target (issue 14): 10,000
rules well under a minute, growth near linear.
"""

from __future__ import annotations

import argparse
import math
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import synthkb  # noqa: E402  (the benchmark's own helper, beside this file)

SIZES = (500, 1000, 2000, 5000, 10000)
SEED = 3
RULES_PER_FILE = 1500


def hipkb_command() -> list[str]:
    """The installed ``hipkb`` script beside this Python, else the CLI through ``python -c``."""
    script = Path(sys.executable).with_name("hipkb")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "import sys; from hipkb.cli import main; sys.exit(main())"]


def write_base(target: Path, size: int) -> Path:
    """A synthetic rule base of *size* rules in *target*, its files split to stay under the loader's limit."""
    from hipkb.knowledge.resources import shipped

    synthkb.write(target, size, shipped("rules"), shipped("facts"), seed=SEED)
    for path in sorted(target.glob("*.yaml")):
        if path.name == "kb.yaml":
            continue
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        rules = data["rules"]
        if len(rules) <= RULES_PER_FILE:
            continue
        path.unlink()
        for part, start in enumerate(range(0, len(rules), RULES_PER_FILE), start=1):
            chunk = {"topic": data["topic"], "rules": rules[start:start + RULES_PER_FILE]}
            (target / f"{path.stem}-{part:02d}.yaml").write_text(yaml.safe_dump(chunk, sort_keys=False),
                                                                 encoding="utf-8")
    return target


def timed(args: list[str], timeout: float) -> tuple[float, float, int | None, str]:
    """Wall and CPU seconds of one run, its exit status (None: stopped at *timeout*) and its last line."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    try:
        done = subprocess.run(args, capture_output=True, text=True, timeout=timeout, check=False)
        status: int | None = done.returncode
        last = done.stdout.rstrip("\n").rpartition("\n")[2] or done.stderr.strip()[-200:]
        # A rule base the engine refuses is checked statically only: say so beside the time.
        refused = [line for line in done.stdout.splitlines() if line.startswith("ERROR load-error")]
        if refused:
            last = f"{last} | {refused[0][len('ERROR '):]}"
    except subprocess.TimeoutExpired:
        status, last = None, ""
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, status, last


def report(label: str, results: list[tuple[int, float, float, int | None, str]]) -> None:
    print(f"\n{label}")
    print(f"{'rules':>7} {'wall s':>8} {'CPU s':>8} {'CPU s/1k rules':>15} {'growth':>7}  result")
    previous: tuple[int, float] | None = None
    for size, wall, cpu, status, last in results:
        growth = ""
        if previous is not None and status is not None and previous[1] > 0 and cpu > 0:
            growth = f"{math.log(cpu / previous[1]) / math.log(size / previous[0]):.2f}"
        shown = f"stopped after {wall:.0f} s" if status is None else f"exit {status}: {last[:140]}"
        print(f"{size:>7,} {wall:>8.2f} {cpu:>8.2f} {cpu / size * 1000:>15.3f} {growth:>7}  {shown}")
        previous = (size, cpu) if status is not None else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)),
                        help="comma-separated rule counts (default: %(default)s)")
    parser.add_argument("--cases", action="store_true",
                        help="also time the whole check (example cases and coverage), not only the static checks")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds allowed per run (default: 600)")
    options = parser.parse_args(argv)
    sizes = [int(s) for s in options.sizes.split(",") if s.strip()]
    command = hipkb_command()
    print(f"hipkb check on synthetic rule bases (seed {SEED}); Python {sys.version.split()[0]}")
    static, whole = [], []
    with tempfile.TemporaryDirectory(prefix="hipkb-check-bench-") as tmp:
        for size in sizes:
            base = write_base(Path(tmp) / f"kb{size}", size)
            static.append((size, *timed([*command, "check", "--rules", str(base), "--no-cases"], options.timeout)))
            if options.cases:
                whole.append((size, *timed([*command, "check", "--rules", str(base)], options.timeout)))
    report("static checks: hipkb check --rules DIR --no-cases", static)
    if options.cases:
        report("whole check: hipkb check --rules DIR (example cases, coverage)", whole)
    print("\ngrowth: log(CPU ratio) / log(size ratio) from the size before; 1 is linear, 2 quadratic")
    return 0


if __name__ == "__main__":
    sys.exit(main())
