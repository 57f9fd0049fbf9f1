"""``hipkb explain``: HOW a conclusion was reached, WHY NOT another, and the firing trace."""

from __future__ import annotations

from pathlib import Path

import click

from hipkb.cli.common import kb_options, load_kb_from


@click.command("explain")
@click.argument("case")
@click.option("--how", "how_ids", multiple=True, metavar="ID",
              help="Unfold a conclusion down to the case's findings: a hypothesis id, a derived fact "
                   "(load_response=bone), a red flag id, triage or running. Repeatable.")
@click.option("--why-not", "why_not_ids", multiple=True, metavar="ID",
              help="Say why a hypothesis (or derived fact, or red flag) was not concluded: "
                   "what was missing, what counted against it. Repeatable.")
@click.option("--trace", is_flag=True, help="Print every rule firing in order, with the facts it matched.")
@kb_options
def command(case: str, how_ids: tuple[str, ...], why_not_ids: tuple[str, ...], trace: bool,
            rules_dir: Path | None, facts_dir: Path | None) -> None:
    """Explain the reasoning about CASE (a case file, or - for stdin).

    With no option, prints the HOW of triage, running advice and the top
    hypothesis. An unknown ID is an error (exit status 2).
    """
    from hipkb import api
    from hipkb.results import explain as ex
    kb = load_kb_from(rules_dir, facts_dir)
    reasoner = api.reasoner_for(kb)
    inference = reasoner.infer(api.load_case(case, kb))
    # Resolve every ID before printing anything, so a typo gives one clean error.
    for target in (*how_ids, *why_not_ids):
        ex.resolve(kb, inference, target)
    blocks: list[str] = []
    if not (how_ids or why_not_ids or trace):
        ranked = inference.ranked()
        how_ids = ("triage", "running", *((ranked[0].hypothesis,) if ranked else ()))
    for target in how_ids:
        kind, _ = ex.resolve(kb, inference, target)
        text = ex.format_how(ex.how(kb, inference, target))
        if kind in ("hypothesis", "derived", "red_flag"):
            info = ex.why_not(kb, inference, target)
            if not info["concluded"]:
                text += "\n" + ex.format_why_not(info)
        blocks.append(text)
    for target in why_not_ids:
        blocks.append(ex.format_why_not(ex.why_not(kb, inference, target)))
    if trace:
        blocks.append(ex.format_trace(ex.trace(kb, inference)))
    from hipkb.textsafe import report_text

    # Matched values can be free text from the case: no control or bidi character reaches the terminal.
    click.echo(report_text("\n".join(blocks)), nl=False)
