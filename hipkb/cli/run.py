"""``hipkb run``: reason about case files and print or write the results.

A thin click layer over :func:`hipkb.batch.runner.run`, which a library user can
call the same way.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from hipkb.cli.common import kb_options, load_kb_from
from hipkb.report.output import AUDIENCES
from hipkb.report.output import OUTPUT_FORMATS as FORMATS


@click.command("run")
@click.argument("cases", nargs=-1, required=True)
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="json", show_default=True,
              help="Output format: hipkb-result/1 JSON, a report (md, html, txt), a FHIR R4 Bundle, or the HTML "
                   "report as a PDF (needs pip install 'hipkb[pdf]').")
@click.option("--audience", type=click.Choice(AUDIENCES), default="clinician", show_default=True,
              help="Who the report is for (md, html, txt): educators also get the step-by-step reasoning.")
@click.option("--templates", "templates", type=click.Path(exists=True, file_okay=False, path_type=Path),
              default=None, help="Directory of Jinja report templates replacing the shipped ones.")
@click.option("-o", "--output", type=click.Path(path_type=Path), default=None,
              help="Write to FILE (one case) or into DIR (one file per case; created if missing) instead of stdout.")
@click.option("-j", "--jobs", type=click.IntRange(min=1), default=None,
              help="Worker processes for a batch; default: every core; 1 runs in this process.")
@click.option("--cluster", "cluster", metavar="ADDRESS", default=None,
              help="Run the batch on the Dask cluster at ADDRESS (tcp://host:8786), or on a local one of N "
                   "worker processes (local:N). Needs pip install 'hipkb[dask]'.")
@click.option("--errors", "errors", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write every failed case to FILE, as JSON Lines of file, field and error.")
@kb_options
def command(cases: tuple[str, ...], fmt: str, audience: str, templates: Path | None, output: Path | None,
            jobs: int | None, cluster: str | None, errors: Path | None, rules_dir: Path | None,
            facts_dir: Path | None) -> None:
    """Reason about CASES (files, directories, or - for stdin) and print the results.

    Directories are searched recursively for *.yaml, *.yml and *.json; stdin
    holds one case or JSON Lines (one case per line). JSON prints one
    hipkb-result/1 object per line. With several cases, a bad case is reported
    on stderr (and in --errors FILE) and the others still run; a summary ends
    the run on stderr.

    Exit status: 0 when every case ran, 1 when some case failed, 2 for bad
    usage or a single bad case.
    """
    if cluster is not None and jobs is not None:
        raise click.UsageError("--jobs and --cluster go apart: the cluster's workers do the work")
    if fmt == "pdf":
        from hipkb.report.pdf import check_available

        check_available()  # one line saying what to install, before any case runs
        if output is None and sys.stdout.isatty():
            raise click.UsageError("--format pdf writes a binary file: give -o FILE.pdf (or -o DIR for several "
                                   "cases), or redirect the output")
    from hipkb.batch import startup

    # Most of hipkb's imports, the knowledge base and its engine: made with
    # the collector off, until the batch runner says start-up is over.
    with startup.paused():
        from hipkb.batch import runner as batch

        if cluster is not None:
            from hipkb.batch.cluster import check_address

            check_address(cluster)
        load_kb_from(rules_dir, facts_dir)  # a bad knowledge base stops here, before any case
        ctx = click.get_current_context()
        settings = batch.Settings(
            fmt=fmt, audience=audience, templates=templates, rules_dir=rules_dir, facts_dir=facts_dir,
            verbose=(ctx.find_root().obj or {}).get("verbose", 0),
        )
        summary = batch.run(cases, settings, jobs=jobs, output=output, errors=errors, own_process=True,
                            cluster=cluster)
    if summary.failed:
        raise click.exceptions.Exit(1)
