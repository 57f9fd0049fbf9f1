"""Instructions per case, counted by callgrind: speed figures a busy machine does not skew.

Run from the project root (needs valgrind)::

    python benchmarks/instructions.py            # 200 generated cases
    python benchmarks/instructions.py --cases 50

Each step of a case is counted on its own: the script runs itself under
``valgrind --tool=callgrind`` once with no case and once per step, each run
doing the steps before it too, over the same seeded case files
(:mod:`casegen`); the difference between two runs, divided by the number of
cases, is what that step costs per case:

- ``read``: the case file read, parsed (YAML) and validated;
- ``infer``: the engine run (``Reasoner.infer``);
- ``questions``: the next questions (with the partial-match analysis);
- ``result``: the whole result (``build_result``, the questions included);
- ``json``: the result written as its line of JSON.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
STEPS = ("read", "infer", "questions", "result", "json")


def workload(directory: Path, steps: int) -> None:
    """Load the knowledge base and warm the engine, then do the first *steps* steps on every case file."""
    from hipkb import api
    from hipkb.results.questions import next_questions

    kb = api.load_kb()
    reasoner = api.reasoner_for(kb)
    files = sorted(directory.glob("*.yaml"))
    warm = api.load_case(files[0], kb)
    api.to_json(api.build_result(kb, reasoner.infer(warm)))  # every lazy import and cache, before counting
    if steps == 0:
        return
    for path in files[1:]:
        case = api.load_case(path, kb)
        if steps >= 2:
            inference = reasoner.infer(case)
            if steps == 3:
                next_questions(kb, inference)
            if steps >= 4:
                result = api.build_result(kb, inference)
                if steps >= 5:
                    api.to_json(result)


def count(directory: Path, steps: int) -> int:
    """Instructions callgrind counts for a run doing the first *steps* steps."""
    with tempfile.TemporaryDirectory() as out:
        # The same hash seed and no knowledge-base cache in every run: a cache
        # written by the first run and read by the next (or dicts laid out
        # by another seed) would be counted as a step's cost.
        env = {**os.environ, "PYTHONHASHSEED": "0", "HIPKB_NO_CACHE": "1"}
        subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}/cg.out",
                        sys.executable, __file__, "--run", str(directory), str(steps)],
                       check=True, capture_output=True, env=env)
        text = (Path(out) / "cg.out").read_text()
    found = re.search(r"^(?:summary|totals): (\d+)", text, re.MULTILINE)
    assert found is not None, "no total in callgrind's output"
    return int(found.group(1))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=200)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--run", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run:
        workload(Path(args.run[0]), int(args.run[1]))
        return 0
    sys.path.insert(0, str(HERE))
    import casegen
    import yaml

    from hipkb.knowledge.resources import shipped

    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        groups = casegen.load_vocabulary(shipped("facts"))
        for number, case in enumerate(casegen.generate(groups, args.cases + 1, seed=args.seed)):
            text = yaml.safe_dump(case, sort_keys=False, allow_unicode=True)
            (directory / f"case-{number:05d}.yaml").write_text(text, encoding="utf-8")
        totals = [count(directory, steps) for steps in range(len(STEPS) + 1)]
    # Each step from the run before it; the result (its questions included) from the run that stopped after inference.
    since = {"read": 0, "infer": 1, "questions": 2, "result": 2, "json": 4}
    print(f"instructions per case (callgrind), {args.cases} generated cases, seed {args.seed}:")
    for n, step in enumerate(STEPS, start=1):
        print(f"  {step:<10} {(totals[n] - totals[since[step]]) / args.cases / 1e6:6.2f} M")
    print(f"  {'file->JSON':<10} {(totals[5] - totals[0]) / args.cases / 1e6:6.2f} M  (read, infer, result, json)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
