"""Byte-identity of hipkb's outputs before and after a change of its code.

Record what a version of hipkb writes, then check that another writes the
same bytes::

    python benchmarks/identity.py record /tmp/ref          # on the version before
    python benchmarks/identity.py compare /tmp/ref         # on the version after

What is recorded, through the command line (in this process, with click's
runner) and the library's public functions:

- every example case under ``facts/cases`` (recursively): the JSON result,
  Markdown, HTML and text reports for clinicians and educators, the FHIR
  Bundle; ``hipkb explain`` (its default, the trace, WHY NOT of every
  hypothesis and red flag, HOW of every hypothesis and alarm status);
- *N* generated cases (3,000 by default), drawn once with seeded hypothesis
  from ``hipkb.testing.strategies`` and kept in the reference directory, so
  both versions read the same files: the JSON result (in one process and
  with ``--jobs 2``), a Markdown and an educator text report, the FHIR
  Bundle, and WHY NOT of every hypothesis;
- the knowledge base's faces: ``hipkb check`` (text and JSON, timings
  removed), ``check --exhaustive`` on a few fields, ``rules list/show/graph``,
  ``schema``, ``questionnaire``.

Each output is kept whole (gzip), so a difference can be shown, not only
found. The reference belongs outside the repository: it is large.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import re
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from click.testing import CliRunner

ROOT = Path(__file__).resolve().parent.parent
TIMING = re.compile(r'("seconds": )[0-9.]+|( in )[0-9.]+s;')


def _cli(*args: str) -> str:
    from hipkb.cli import main

    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return f"exit {result.exit_code}\n{result.stdout}"


def _examples() -> list[Path]:
    return sorted(p for p in (ROOT / "facts" / "cases").rglob("*") if p.suffix in (".yaml", ".json"))


def draw(count: int, seed: int, into: Path) -> None:
    """*count* case files drawn with the strategies (free, and leaning towards each hypothesis), seeded."""
    from hipkb import api
    from hipkb.testing.draws import draw_cases

    drawn = draw_cases(api.load_kb(), count, seed=seed)
    into.mkdir(parents=True, exist_ok=True)
    for number, case in enumerate(drawn):
        (into / f"gen-{number:05d}.json").write_text(json.dumps({**case, "case_id": f"gen-{number:05d}"}),
                                                     encoding="utf-8")


def outputs(generated: Path, only: str = "") -> Iterator[tuple[str, str]]:
    """(name, text) of everything compared, in a fixed order."""
    from hipkb import api
    from hipkb.results import explain as ex

    kb = api.load_kb()
    reasoner = api.reasoner_for(kb)
    hypotheses = sorted(kb.hypotheses)
    flags = sorted(kb.red_flags)
    alarms = sorted(kb.safety.alarm_hypotheses)
    examples = _examples()
    cases_dir = str(ROOT / "facts" / "cases")
    if only in ("", "kb"):
        yield "check", TIMING.sub(r"\1\2", _cli("check", "--generated", "0"))
        yield "check.json", TIMING.sub(r"\1\2", _cli("check", "--generated", "0", "--format", "json"))
        yield "check.exhaustive", TIMING.sub(r"\1\2", _cli(
            "check", "--exhaustive", "--jobs", "1", "--fields",
            "behaviour.walking,behaviour.hopping,pain.regions,history.onset"))
        yield "rules.list", _cli("rules", "list")
        yield "rules.list.json", _cli("rules", "list", "--format", "json")
        for rule in kb.rules:
            yield f"rules.show.{rule.id}", _cli("rules", "show", rule.id, "--format", "json") + _cli(
                "rules", "show", rule.id)
        yield "rules.graph", _cli("rules", "graph") + _cli("rules", "graph", "--format", "mermaid")
        yield "schema", _cli("schema")
        yield "questionnaire", _cli("questionnaire")
    if only in ("", "examples"):
        for fmt in ("json", "md", "html", "txt", "fhir"):
            for audience in ("clinician", "educator") if fmt in ("md", "html", "txt") else ("clinician",):
                yield f"examples.{fmt}.{audience}", _cli("run", cases_dir, "--jobs", "1", "--format", fmt,
                                                         "--audience", audience)
        for path in examples:
            name = str(path.relative_to(ROOT))
            try:
                inference = reasoner.infer(api.load_case(path, kb))
            except Exception as error:  # a case refused is an output too
                yield f"{name}:load", f"{type(error).__name__}: {error}"
                continue
            yield f"{name}:explain", _cli("explain", str(path))
            yield f"{name}:trace", ex.format_trace(ex.trace(kb, inference))
            for target in (*hypotheses, *flags):
                yield f"{name}:why_not:{target}", ex.format_why_not(ex.why_not(kb, inference, target))
            for target in (*hypotheses, *(f"status.{a}" for a in alarms)):
                try:
                    yield f"{name}:how:{target}", ex.format_how(ex.how(kb, inference, target))
                except Exception as error:
                    yield f"{name}:how:{target}", f"{type(error).__name__}: {error}"
    if only in ("", "generated"):
        gen = str(generated)
        for fmt, audience in (("json", "clinician"), ("md", "clinician"), ("txt", "educator"), ("fhir", "clinician")):
            yield f"generated.{fmt}.{audience}", _cli("run", gen, "--jobs", "1", "--format", fmt,
                                                      "--audience", audience)
        yield "generated.json.jobs2", _cli("run", gen, "--jobs", "2")
        for path in sorted(generated.glob("*.json")):
            inference = reasoner.infer(api.load_case(path, kb))
            text = "".join(ex.format_why_not(ex.why_not(kb, inference, target)) for target in hypotheses)
            yield f"generated/{path.name}:why_not", text


def _store(path: Path) -> dict[str, str]:
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        return json.load(handle)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("action", choices=("record", "compare"))
    parser.add_argument("reference", type=Path, help="the reference directory (outside the repository)")
    parser.add_argument("--generated", type=int, default=3000, help="how many generated cases (default 3000)")
    parser.add_argument("--seed", type=int, default=24)
    parser.add_argument("--only", choices=("kb", "examples", "generated"), default="",
                        help="compare one part only (a quicker look while working)")
    args = parser.parse_args()
    ref: Path = args.reference
    generated = ref / "generated"
    if args.action == "record" and not generated.exists():
        draw(args.generated, args.seed, generated)
    started = time.monotonic()
    found = dict(outputs(generated, args.only))
    elapsed = time.monotonic() - started
    total = hashlib.sha256()
    for name in sorted(found):
        total.update(name.encode() + b"\0" + hashlib.sha256(found[name].encode()).digest())
    cases = len(list(generated.glob("*.json")))
    print(f"{len(found):,} outputs ({len(_examples())} examples, {cases:,} generated cases) in {elapsed:.0f} s; "
          f"digest {total.hexdigest()[:16]}")
    if args.action == "record":
        ref.mkdir(parents=True, exist_ok=True)
        with gzip.open(ref / "outputs.json.gz", "wt", encoding="utf-8") as handle:
            json.dump(found, handle)
        (ref / "digest").write_text(total.hexdigest() + "\n")
        return 0
    before = _store(ref / "outputs.json.gz")
    names = set(found) if args.only else set(before) | set(found)
    differ = sorted(n for n in names if before.get(n) != found.get(n))
    for name in differ[:20]:
        print(f"DIFFERS: {name}", file=sys.stderr)
        import difflib

        diff = difflib.unified_diff((before.get(name) or "<missing>").splitlines(),
                                    (found.get(name) or "<missing>").splitlines(), "before", "after", lineterm="", n=1)
        for line in list(diff)[:30]:
            print("   " + line[:300], file=sys.stderr)
    if differ:
        print(f"{len(differ)} of {len(names):,} outputs differ", file=sys.stderr)
        return 1
    print(f"identical: all {len(names):,} outputs byte for byte")
    return 0


if __name__ == "__main__":
    sys.exit(main())
