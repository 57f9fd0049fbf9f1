"""``hipkb validate``: check case files without reasoning about them."""

from __future__ import annotations

from pathlib import Path

import click

from hipkb.cli.common import kb_options, load_kb_from


@click.command("validate")
@click.argument("cases", nargs=-1, required=True)
@click.option("-q", "--quiet", is_flag=True, help="Print only errors.")
@kb_options
def command(cases: tuple[str, ...], quiet: bool, rules_dir: Path | None, facts_dir: Path | None) -> None:
    """Check CASES (files, directories, or - for stdin) against hipkb-case/1.

    Prints one line per case: "ok" or the error, naming the file and the field.
    Exit status: 0 when all are valid, 2 when any is not.
    """
    from hipkb.errors import HipkbError
    from hipkb.load.inputs import expand
    from hipkb.textsafe import terminal

    kb = load_kb_from(rules_dir, facts_dir)
    bad = 0
    for source in expand(cases):
        try:
            case = source.load(kb)
        except HipkbError as error:
            bad += 1
            click.echo(f"hipkb: {error}", err=True)
            continue
        if not quiet:
            # Both come from outside: a case_id with an escape sequence or a
            # newline must neither drive the terminal nor forge an "ok" line.
            click.echo(f"{terminal(source.name)}: ok ({terminal(case.case_id)})")
    if bad:
        raise click.exceptions.Exit(2)
