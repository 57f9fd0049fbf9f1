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
              help="With --exhaustive: worker processes (default: every core).")
@click.option("--cluster", "cluster", metavar="ADDRESS", default=None,
              help="With --exhaustive: run on the Dask cluster at ADDRESS (tcp://host:8786, or local:N). Needs "
                   "pip install 'hipkb[dask]'.")
@click.option("--max-combinations", type=click.IntRange(min=1), default=None,
              help="With --exhaustive: refuse to run more combinations than this (default 1,000,000).")
@click.option("-o", "--output", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="With --exhaustive: also write each counterexample as a case file into this directory.")
def command(rules_dir: Path | None, facts_dir: Path | None, fmt: str, generated: int | None, no_cases: bool,
            exhaustive: bool, fields: tuple[str, ...], base: Path | None, jobs: int | None,
            cluster: str | None, max_combinations: int | None, output: Path | None) -> None:
    """Verify a rule base: each finding with its rule ids and a one-line explanation.

    Static checks: load errors (unknown facts or values, duplicate ids), rules
    that can never fire, derived facts nothing produces or nothing reads,
    redundant rules, conflicting pairs, cycles, unreachable hypotheses,
    vocabulary no rule reads. Then every example case with an expect block
    under FACTS/cases runs as a regression test, and rule coverage is
    reported (with generated cases for the rules no example fires).
    Intended findings can be marked in kb.yaml under verify.allow.

    Exit status: 0 clean (notes allowed), 1 with errors or warnings (a rule
    base that does not load is a finding too), 2 for bad usage.
    """
    from hipkb.verify import report as fmt_report

    if not exhaustive and (fields or base or jobs or cluster or max_combinations or output):
        raise click.UsageError("--fields, --base, --jobs, --cluster, --max-combinations and -o go with --exhaustive")
    if cluster is not None and jobs is not None:
        raise click.UsageError("--jobs and --cluster go apart: the cluster's workers do the work")
    if cluster is not None:
        from hipkb.batch.cluster import check_address

        check_address(cluster)
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
    click.echo(fmt_report.to_json(report) if fmt == "json" else fmt_report.to_text(report), nl=False)
    if report.failed:
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
