"""``hipkb evaluate``: measure a rule base on labelled cases (a thin layer over :mod:`hipkb.verify.evaluate`)."""

from __future__ import annotations

from pathlib import Path

import click

from hipkb.cli.common import kb_options, load_kb_from
from hipkb.verify.evaluation_report import FORMATS

EXPECT_FILE = "expect.yaml"


@click.command("evaluate")
@click.argument("cases", nargs=-1, required=True)
@click.option("--expect", "expect", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="The expectations: case file stem -> expectations (the format of cases-reviewed/expect.yaml). "
                   f"Default: {EXPECT_FILE} in CASES when it is one folder that has one; else each case file's "
                   "own expect block.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True,
              help="text for people; json (hipkb-evaluation/1), md, or html (with SVG charts) for papers.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the report to FILE instead of stdout.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the bootstrap.")
@click.option("--bootstrap", "resamples", type=click.IntRange(min=0), default=1000, show_default=True,
              help="Bootstrap resamples for the 95% intervals (0: none).")
@kb_options
def command(cases: tuple[str, ...], expect: Path | None, fmt: str, output: Path | None, seed: int,
            resamples: int, rules_dir: Path | None, facts_dir: Path | None) -> None:
    """Run labelled CASES (files or folders) and measure the rule base on them.

    Top-1, top-3, safety and over-triage as the expectations define them
    (their keys: docs/research.md), sensitivity and positive predictive value
    per hypothesis, the confusion table, and the calibration of the certainty
    bands, each with a bootstrap 95% interval; then one line per failed case,
    with what was expected and what came out.

    Exit status: 0 when every expectation holds, 1 when some case fails or
    does not run, 2 for bad usage or input.
    """
    from hipkb.errors import HipkbError
    from hipkb.load.inputs import expand
    from hipkb.verify.evaluate import evaluate
    from hipkb.verify.evaluation_report import render
    from hipkb.verify.expectations import load_expectations

    for argument in cases:
        if argument != "-" and argument.strip() and not Path(argument).exists():
            raise HipkbError(argument, "", "no such file or directory")
    folders = [Path(c) for c in cases if c != "-" and Path(c).is_dir()]
    if expect is None and len(cases) == 1 and folders and (folders[0] / EXPECT_FILE).is_file():
        expect = folders[0] / EXPECT_FILE
    kb = load_kb_from(rules_dir, facts_dir)
    expectations = load_expectations(expect) if expect is not None else None
    skip = expect.resolve() if expect is not None else None
    sources = [s for s in expand(cases) if s.path is None or s.path.resolve() != skip]
    name = folders[0].resolve().name if len(cases) == 1 and folders else ", ".join(cases)
    evaluation = evaluate(kb, sources, expectations, seed=seed, resamples=resamples)
    text = render(evaluation, fmt, name)
    if output is None:
        click.echo(text, nl=False)
    else:
        from hipkb.batch.outputs import write_atomic

        write_atomic(output, text, protect=[s.path for s in sources if s.path is not None]
                     + ([expect] if expect is not None else []))
    if not evaluation.ok:
        raise click.exceptions.Exit(1)
