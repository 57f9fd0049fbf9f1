"""``hipkb interview``: build a case file by answering questions, most useful first."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from hipkb.cli.common import kb_options, load_kb_from
from hipkb.parse.text import has_surrogates

ECHO_LIMIT = 200  # characters of an answer shown back; the rest is "..."
MAX_ANSWER = 10_000  # characters of one answer read; no answer is anywhere near


class _BoundedLines:
    """Lines of a text stream, each cut to MAX_ANSWER characters (the rest of a long line is dropped)."""

    def __init__(self, stream) -> None:
        self.stream = stream

    def readline(self) -> str:
        line = self.stream.readline(MAX_ANSWER + 1)
        if len(line) > MAX_ANSWER and not line.endswith("\n"):
            while (rest := self.stream.readline(1 << 16)) and not rest.endswith("\n"):
                pass
        return line


@click.command("interview")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Save the case to FILE (YAML; JSON when FILE ends in .json), written atomically. "
                   "Default: print it to stdout.")
@click.option("--case-id", default=None, help="The case id; default: the output file's name, or 'interview'.")
@click.option("--max-questions", type=click.IntRange(min=1), default=None,
              help="Stop after N questions (the required ones always come first). Default: ask everything useful.")
@click.option("--force", is_flag=True, help="Replace FILE if it exists.")
@click.option("-q", "--quiet", is_flag=True,
              help="With answers from a script, print neither the questions nor the differential.")
@kb_options
def command(output: Path | None, case_id: str | None, max_questions: int | None, force: bool, quiet: bool,
            rules_dir: Path | None, facts_dir: Path | None) -> None:
    """Build a case by answering questions, and save it as a hipkb-case/1 file.

    Questions come in the order that matters most for the case so far; the
    top of the differential is shown as it changes (on stderr, so the case on
    stdout stays clean). Answer with a listed word or its number; press Enter,
    or type ? or unknown, to leave a finding unknown.

    Scriptable: give one answer per line on stdin. When stdin is not a
    terminal, a bad answer is an error (exit status 2) instead of being asked
    again, and the interview ends when the answers do.
    """
    from hipkb import api
    from hipkb.batch.outputs import write_atomic
    from hipkb.errors import HipkbError, StreamClosedError
    from hipkb.results.interview import Interview, prompt_text, run
    from hipkb.textsafe import terminal

    if case_id is not None and has_surrogates(case_id):
        # Bytes that are not UTF-8 on the command line arrive as lone surrogates.
        raise HipkbError("--case-id", "", "is not valid UTF-8 text")
    if output is None and getattr(sys.stdout, "closed", False):
        # Said before the questions, not after the answers: the case would be lost.
        raise StreamClosedError("<stdout>", "", "standard output is closed; give -o FILE for the case")
    if output is not None and output.exists() and not force:
        raise HipkbError(str(output), "", "exists; use --force to replace it")
    if output is not None and not output.parent.resolve().is_dir():
        raise HipkbError(str(output), "", "its directory does not exist")
    kb = load_kb_from(rules_dir, facts_dir)
    interview = Interview(kb, api.reasoner_for(kb), max_questions=max_questions,
                          case_id=case_id or (output.stem if output is not None else "interview"))
    stdin = sys.stdin
    interactive = stdin.isatty()
    if not interactive:
        # Answers are read line by line with a bound: a line of 10 MB is cut
        # (and refused as an answer), never held whole, nor echoed whole.
        stdin = _BoundedLines(stdin)

    def show(text: str) -> None:
        if interactive or not quiet:
            click.echo(text, err=True)

    def ask(field) -> str | None:
        text = prompt_text(field)
        if interactive:
            try:
                return click.prompt(text, default="", show_default=False, err=True, prompt_suffix="\n> ")
            except click.Abort:  # Ctrl-D: no more answers
                click.echo("", err=True)
                return None
        line = stdin.readline()
        if not line:
            return None
        answer = line.rstrip("\r\n")
        show(f"{text}\n> {terminal(answer, limit=ECHO_LIMIT)}")
        return answer

    run(interview, ask, show, interactive=interactive)
    text = interview.to_text("json" if output is not None and output.suffix.lower() == ".json" else "yaml")
    if output is not None:
        write_atomic(output, text)
        known = sum(1 for v in interview.answers.values() if v is not None)
        show(f"saved {output}: {known} finding(s) known, {len(interview.answers) - known} left unknown")
    else:
        click.echo(text, nl=False)
