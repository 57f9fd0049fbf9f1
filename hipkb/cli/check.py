"""``hipkb check``: verify a rule base (static anomalies, regression cases, coverage), or run it exhaustively."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from hipkb.cli.common import kb_options

FORMATS = ("text", "json")


def _split(values: tuple[str, ...]) -> list[str]:
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


@click.command("check")
@kb_options
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True,
              help="text for people, json (one hipkb-check/1 object) for pipelines.")
@click.option("--generated", type=click.IntRange(min=0), default=None,
              help="How many hypothesis-generated cases to try for rules no example fires (default 300; 0: only "
                   "cases built from the rules).")
@click.option("--no-cases", is_flag=True, help="Static checks only: do not run the example cases.")
@click.option("--exhaustive", is_flag=True,
              help="Instead: run every combination of --fields (others unknown) and check the invariants.")
@click.option("--fields", multiple=True, metavar="A.B,C.D",
              help="With --exhaustive: the fields to enumerate (comma-separated, repeatable). Default: the "
                   "red-flag and bone-stress fields that fit in 20,000 combinations.")
@click.option("--base", "base", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="With --exhaustive: a case file whose findings the fields not enumerated keep.")
@click.option("-j", "--jobs", type=click.IntRange(min=1), default=None,
              help="With --exhaustive or --mutants: worker processes (default: every core).")
@click.option("--cluster", "cluster", metavar="ADDRESS", default=None,
              help="With --exhaustive or --mutants: run on the Dask cluster at ADDRESS (tcp://host:8786, or "
                   "local:N). Needs pip install 'hipkb[dask]'.")
@click.option("--max-combinations", type=click.IntRange(min=1), default=None,
              help="With --exhaustive: refuse to run more combinations than this (default 1,000,000).")
@click.option("-o", "--output", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="With --exhaustive: also write each counterexample as a case file into this directory.")
@click.option("--mutants", is_flag=True,
              help="Instead: make small changes to the rules one at a time and see whether the example cases, "
                   "the expectations and the property checks notice each; report the score and every survivor.")
@click.option("--budget", metavar="N|Ts", default=None,
              help="With --mutants: at most N mutants (a seeded sample), or stop starting new ones after T seconds "
                   "(300s, 10m).")
@click.option("--expect", "expect", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="With --mutants: also check the labelled cases beside this expectations file (the format of "
                   "cases-reviewed/expect.yaml).")
@click.option("--operators", multiple=True, metavar="A,B",
              help="With --mutants: the kinds of change (default all: drop-condition, drop-rule, flip-weight, "
                   "lower-decision, swap-value).")
@click.option("--property-cases", type=click.IntRange(min=0), default=None,
              help="With --mutants: at most this many cases built from the examples for the property checks "
                   "(default 300; 0: none).")
@click.option("--seed", type=int, default=0, show_default=True, help="With --mutants: the seed of the samples.")
@click.option("--fail-under", type=click.FloatRange(0, 1), default=None, metavar="SCORE",
              help="With --mutants: exit 1 when the mutation score is below SCORE (0 to 1).")
@click.option("--verbose", is_flag=True, help="List each finding kb.yaml allows (verify.allow), not only how many.")
def command(rules_dir: Path | None, facts_dir: Path | None, fmt: str, generated: int | None, no_cases: bool,
            exhaustive: bool, fields: tuple[str, ...], base: Path | None, jobs: int | None,
            cluster: str | None, max_combinations: int | None, output: Path | None, mutants: bool,
            budget: str | None, expect: Path | None, operators: tuple[str, ...], property_cases: int | None,
            seed: int, fail_under: float | None, verbose: bool) -> None:
    """Verify a rule base: each finding with its rule ids and a one-line explanation.

    Static checks: load errors (unknown facts or values, duplicate ids), rules
    that can never fire, derived facts nothing produces or nothing reads,
    redundant rules, conflicting pairs, cycles, unreachable hypotheses,
    vocabulary no rule reads. Then every example case with an expect block
    under FACTS/cases runs as a regression test, and rule coverage is
    reported (with generated cases for the rules no example fires).
    Intended findings can be marked in kb.yaml under verify.allow.

    The verdict and the counts come first; findings kb.yaml intends are
    counted in one line (--verbose lists them).

    With --mutants: mutation testing of the knowledge (drop a condition,
    drop a rule, flip a weight's sign, lower a triage or running conclusion
    one step, swap a value), each mutant run against the example cases and
    their expectations, the labelled cases of --expect, and the property
    checks; the mutation score first, then every surviving mutant by rule
    file.

    Exit status: 0 clean (notes allowed), 1 with errors or warnings (a rule
    base that does not load is a finding too; with --mutants, a score under
    --fail-under), 2 for bad usage.
    """
    from hipkb.verify import report as fmt_report

    if exhaustive and mutants:
        raise click.UsageError("--exhaustive and --mutants go apart")
    if not exhaustive and (fields or base or max_combinations or output):
        raise click.UsageError("--fields, --base, --max-combinations and -o go with --exhaustive")
    if not exhaustive and not mutants and (jobs or cluster):
        raise click.UsageError("--jobs and --cluster go with --exhaustive or --mutants")
    if not mutants and (budget or expect or operators or property_cases is not None or fail_under is not None):
        raise click.UsageError("--budget, --expect, --operators, --property-cases and --fail-under go with --mutants")
    if cluster is not None and jobs is not None:
        raise click.UsageError("--jobs and --cluster go apart: the cluster's workers do the work")
    if cluster is not None:
        from hipkb.batch.cluster import check_address

        check_address(cluster)
    if mutants:
        _mutants(rules_dir, facts_dir, fmt, budget, expect, _split(operators), property_cases, seed, jobs, cluster,
                 fail_under)
        return
    if exhaustive:
        report = _exhaustive(rules_dir, facts_dir, _split(fields), base, jobs, max_combinations, output, fmt,
                             cluster)
    else:
        from hipkb.cli.progress import progress_line
        from hipkb.verify import verify

        progress = progress_line(sys.stderr)
        try:
            report = verify(rules_dir, facts_dir, examples=not no_cases, generated=generated, search=_search(),
                            progress=progress)
        finally:
            if progress is not None:
                progress.clear()
    click.echo(fmt_report.to_json(report) if fmt == "json" else fmt_report.to_text(report, verbose=verbose), nl=False)
    if report.failed:
        raise click.exceptions.Exit(1)


def parse_budget(text: str | None) -> tuple[int | None, float | None]:
    """``--budget``: a number of mutants (``500``) or a time (``300s``, ``10m``)."""
    if text is None:
        return None, None
    value = text.strip().lower()
    try:
        if value.endswith("s"):
            return None, float(value[:-1])
        if value.endswith("m"):
            return None, float(value[:-1]) * 60
        count = int(value)
    except ValueError:
        raise click.BadParameter(f"{text!r}: give a number of mutants (500) or a time (300s, 10m)",
                                 param_hint="--budget") from None
    if count < 1:
        raise click.BadParameter("at least 1 mutant", param_hint="--budget")
    return count, None


def _mutants(rules_dir, facts_dir, fmt, budget, expect, operators, property_cases, seed, jobs, cluster, fail_under):
    from hipkb.cli.common import load_kb_from
    from hipkb.cli.progress import progress_line
    from hipkb.load.inputs import expand
    from hipkb.verify import mutants as mu
    from hipkb.verify.evaluate import labelled
    from hipkb.verify.expectations import load_expectations
    from hipkb.verify.mutants_report import to_json, to_text
    from hipkb.verify.regression import example_sources

    count, seconds = parse_budget(budget)
    kb = load_kb_from(rules_dir, facts_dir)
    cases = []
    if expect is not None:
        sources = [s for s in expand([str(expect.parent)]) if s.path is None or s.path.resolve() != expect.resolve()]
        cases = [(name, source, exp) for name, source, exp in labelled(sources, load_expectations(expect))
                 if source is not None and exp is not None]
    line = progress_line(sys.stderr)

    def progress(done: int, total: int) -> None:
        if line is not None:
            line("mutants", done, total)

    from hipkb.batch.pool import catch_signals, default_jobs

    restore = catch_signals()
    try:
        report = mu.run(kb, example_sources(kb.facts_dir), cases, operators=operators or mu.OPERATORS,
                        budget=count, seconds=seconds, seed=seed, properties=property_cases != 0,
                        property_cases=property_cases or mu.DEFAULT_PROPERTY_CASES,
                        jobs=jobs or (1 if cluster else default_jobs()), cluster=cluster, progress=progress)
    finally:
        if line is not None:
            line.clear()
        if restore is not None:
            restore()
    click.echo(to_json(report) if fmt == "json" else to_text(report), nl=False)
    if fail_under is not None and (report.score or 0.0) < fail_under:
        raise click.exceptions.Exit(1)


def _search():
    """The hypothesis adapter that draws cases for uncovered rules, if hypothesis is installed."""
    try:
        from hipkb.testing.coverage import search
    except ImportError:  # hypothesis is a test extra: without it, only cases built from the rules
        return None
    return search


def _exhaustive(rules_dir, facts_dir, fields, base, jobs, max_combinations, output, fmt, cluster=None):
    from hipkb.cli.common import load_kb_from
    from hipkb.errors import HipkbError
    from hipkb.knowledge.resources import shipped
    from hipkb.knowledge.vocabulary import Vocabulary
    from hipkb.verify import Report
    from hipkb.verify import exhaustive as ex
    from hipkb.verify.anomalies import load_findings
    from hipkb.verify.findings import sort_findings
    from hipkb.verify.report import case_yaml

    rules_path = rules_dir.resolve() if rules_dir else shipped("rules")
    facts_path = facts_dir.resolve() if facts_dir else shipped("facts")
    report = Report(kb={"rules_dir": str(rules_path), "facts_dir": str(facts_path)})
    broken = load_findings(rules_path, Vocabulary.load(facts_path))
    if broken:
        report.findings = sort_findings(broken)
        return report
    kb = load_kb_from(rules_dir, facts_dir)
    report.kb.update({"name": kb.name, "version": kb.version, "rules": len(kb.rules)})
    base_data = None
    if base is not None:
        from hipkb import api

        base_data = api.load_case(base, kb).to_data()
        base_data.pop("case_id", None)
    tty = sys.stderr.isatty()
    step = {"last": -1}

    def announce(axes, total) -> None:
        names = ", ".join(f"{a.path} ({len(a.values)})" for a in axes)
        click.echo(f"hipkb check --exhaustive: {total:,} combinations of {names}", err=True)

    def progress(done: int, total: int) -> None:
        percent = done * 100 // total
        if tty:
            click.echo(f"\r  {done:,}/{total:,} ({percent}%)", err=True, nl=done == total)
        elif percent // 10 != step["last"] // 10 or done == total:
            click.echo(f"  {done:,}/{total:,} ({percent}%)", err=True)
        step["last"] = percent

    options = {} if max_combinations is None else {"max_combinations": max_combinations}
    from hipkb.batch.pool import catch_signals

    restore = catch_signals()  # SIGTERM too ends the sweep cleanly, its workers with it
    try:
        result = ex.run(kb, fields or None, base=base_data, jobs=jobs, progress=progress, announce=announce,
                        cluster=cluster, **options)
    finally:
        if restore is not None:
            restore()
    report.findings = sort_findings(result.findings())
    report.stats["exhaustive"] = {"fields": result.fields, "combinations": result.combinations,
                                  "checked": result.checked, "violating": result.violating,
                                  "counterexamples": len(result.counterexamples),
                                  "seconds": round(result.seconds, 2)}
    if output is not None:
        try:
            output.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise HipkbError(str(output), "", f"cannot create the directory: {error.strerror}") from None
        from hipkb.batch.outputs import write_atomic

        for number, example in enumerate(result.counterexamples, start=1):
            text = case_yaml({"case_id": f"counterexample-{number}", **example.case},
                             "; ".join(example.messages))
            write_atomic(output / f"counterexample-{number}.yaml", text)
    return report
