"""``hipkb run``: reason about case files and print or write the results."""

from __future__ import annotations

from pathlib import Path

import click

from .common import kb_options, load_kb_from

FORMATS = ("json", "md", "html", "txt")
AUDIENCES = ("clinician", "educator")


@click.command("run")
@click.argument("cases", nargs=-1, required=True)
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="json", show_default=True,
              help="Output format.")
@click.option("--audience", type=click.Choice(AUDIENCES), default="clinician", show_default=True,
              help="Who the report is for (md, html, txt): educators also get the step-by-step reasoning.")
@click.option("--templates", "templates", type=click.Path(exists=True, file_okay=False, path_type=Path),
              default=None, help="Directory of Jinja report templates replacing the shipped ones.")
@click.option("-o", "--output", type=click.Path(path_type=Path), default=None,
              help="Write to FILE (one case) or into DIR (one file per case) instead of stdout.")
@kb_options
def command(cases: tuple[str, ...], fmt: str, audience: str, templates: Path | None, output: Path | None,
            rules_dir: Path | None, facts_dir: Path | None) -> None:
    """Reason about CASES (files, directories, or - for stdin) and print the results.

    JSON prints one hipkb-result/1 object per line. Exit status: 0 when every
    case ran, 1 when some case failed, 2 for bad usage or a single bad case.
    """
    from .. import api
    from ..errors import HipkbError
    from ..inputs import expand
    from ..outputs import SUFFIXES, OutputDir, write_atomic

    kb = load_kb_from(rules_dir, facts_dir)
    reasoner = api.reasoner_for(kb)
    sources = list(expand(cases))
    inputs = [s.path for s in sources if s.path is not None]
    out_dir = None
    if output is not None and (output.is_dir() or len(sources) > 1):
        if not output.is_dir():
            raise HipkbError(str(output), "", "with several cases, -o must name an existing directory")
        out_dir = OutputDir(output, SUFFIXES[fmt], inputs)
    failures = 0
    for source in sources:
        try:
            case = source.load(kb)
            text = api.report(reasoner, case, fmt, audience=audience, templates=templates)
        except HipkbError as error:
            if len(sources) == 1:
                raise
            failures += 1
            click.echo(f"hipkb: {error}", err=True)
            continue
        if out_dir is not None:
            write_atomic(out_dir.path_for(case.case_id), text, protect=inputs)
        elif output is not None:
            write_atomic(output, text, protect=inputs)
        else:
            click.echo(text, nl=False)
    if failures:
        raise click.exceptions.Exit(1)
