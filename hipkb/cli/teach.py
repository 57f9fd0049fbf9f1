"""``hipkb teach``: the teaching case library: list it, show a case stage by stage, print its handouts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from hipkb.cli.common import kb_options, load_kb_from


def _library(rules_dir: Path | None, facts_dir: Path | None) -> tuple[Any, Any]:
    from hipkb.teach.library import load_library

    kb = load_kb_from(rules_dir, facts_dir)
    return kb, load_library(kb)


def _echo(text: str) -> None:
    from hipkb.textsafe import report_text

    click.echo(report_text(text), nl=False)


@click.group("teach")
def command() -> None:
    """The teaching case library: list the cases, show one stage by stage, print a student sheet or answer key."""


@command.command("list")
@click.option("--region", default=None, help="Only cases with pain in this region (a value of pain.regions).")
@click.option("--topic", default=None, help="Only cases tagged with this topic (see facts/teaching/library.yaml).")
@click.option("--difficulty", default=None, help="Only cases of this difficulty.")
@click.option("--format", "fmt", type=click.Choice(("text", "json")), default="text", show_default=True)
@kb_options
def list_cases(region: str | None, topic: str | None, difficulty: str | None, fmt: str,
               rules_dir: Path | None, facts_dir: Path | None) -> None:
    """List the library's cases: id, title, difficulty and topics. Titles never give the answer away."""
    from hipkb.errors import TeachingError, allowed_list, did_you_mean

    kb, library = _library(rules_dir, facts_dir)
    manifest = library.manifest
    regions = kb.vocabulary.fields["pain.regions"].values if "pain.regions" in kb.vocabulary.fields else {}
    for option, value, allowed in (("--region", region, regions), ("--topic", topic, manifest.topics),
                                   ("--difficulty", difficulty, manifest.difficulties)):
        if value is not None and value not in allowed:
            raise TeachingError(option, "", f"found {value!r}; allowed: {allowed_list(allowed, 20)}"
                                + did_you_mean(value, allowed))
    cases = library.select(region=region, topic=topic, difficulty=difficulty)
    if fmt == "json":
        click.echo(json.dumps([{"id": c.id, "title": c.title, "difficulty": c.difficulty, "topics": list(c.topics),
                                "regions": list(c.regions), "stages": [s.id for s in c.stages(manifest)]}
                               for c in cases], ensure_ascii=False))
        return
    width = max((len(c.id) for c in cases), default=0)
    lines = [f"{c.id:<{width}}  {c.title}  [{c.difficulty}; {', '.join(manifest.topics[t] for t in c.topics)}]"
             for c in cases]
    _echo("".join(line + "\n" for line in lines))
    click.echo(f"{len(cases)} of {len(library.cases)} teaching case(s)", err=True)


@command.command("show")
@click.argument("case_id")
@click.option("--stage", "upto", type=click.IntRange(min=1), default=None,
              help="Show the case only up to stage N (1 is the history).")
@click.option("--answers", is_flag=True, help="Also say what hipkb concludes at each stage, and the answer.")
@click.option("--case", "as_case", is_flag=True, help="Print the case file behind it (hipkb-case/1 YAML) instead.")
@kb_options
def show(case_id: str, upto: int | None, answers: bool, as_case: bool, rules_dir: Path | None,
         facts_dir: Path | None) -> None:
    """Show a teaching case: its vignette stage by stage (and, with --answers, hipkb's reasoning)."""
    from hipkb import api
    from hipkb.errors import TeachingError
    from hipkb.teach.reveal import run_stages, stage_summary

    kb, library = _library(rules_dir, facts_dir)
    case = library.get(case_id)
    if as_case:
        from hipkb.teach.library import case_file

        _echo(case_file(case))
        return
    stages = case.stages(library.manifest)
    if upto is not None and upto > len(stages):
        raise TeachingError(case_id, "--stage", f"found {upto}; this case has stages 1 to {len(stages)}")
    shown = stages[:upto] if upto else stages
    runs = run_stages(api.reasoner_for(kb), case.case, shown) if answers else []
    lines = [case.title, f"{library.manifest.difficulties[case.difficulty]}; "
             + ", ".join(library.manifest.topics[t] for t in case.topics), ""]
    for n, stage in enumerate(shown, start=1):
        lines.append(f"Stage {n} of {len(stages)}: {stage.label}")
        if stage.id in case.vignette:
            lines.append("  " + case.vignette[stage.id])
        for question in case.discussion.get(stage.id, ()):
            lines.append(f"  Discuss: {question}")
        if answers:
            summary = stage_summary(kb, runs[n - 1])
            lines.append("  hipkb: " + "; ".join(f"{h['label']} {h['band']} ({h['certainty']:.2f})"
                                                 for h in summary["top"]))
            lines.append(f"  triage {summary['triage']['text']}; {summary['running']['text']}"
                         + "".join(f"; red flag: {f['label']}" for f in summary["red_flags"]))
            for e in summary["exclusions"]:
                lines.append(f"  {e['label']}: {e['text']}")
        lines.append("")
    if answers and (upto is None or upto == len(stages)):
        lines.append(f"Answer: {kb.hypotheses[case.answer].label}" + (f". {case.summary}" if case.summary else ""))
        lines.append(f"Teaching point: {case.teaching_point}")
        lines.append(f"Source: {case.source}")
    _echo("\n".join(lines) + "\n")


@command.command("handout")
@click.argument("case_id")
@click.option("--audience", type=click.Choice(("student", "educator")), default="student", show_default=True,
              help="student: the vignette and the questions, no answers; educator: the answer key.")
@click.option("--format", "fmt", type=click.Choice(("html", "md")), default="html", show_default=True)
@click.option("--stage", "upto", type=click.IntRange(min=1), default=None, help="Only the first N stages.")
@click.option("--templates", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              help="Directory of Jinja templates replacing the shipped handout templates.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write to FILE instead of stdout.")
@kb_options
def handout(case_id: str, audience: str, fmt: str, upto: int | None, templates: Path | None, output: Path | None,
            rules_dir: Path | None, facts_dir: Path | None) -> None:
    """Print a teaching case's student sheet or answer key (HTML to print, or Markdown)."""
    from hipkb import api
    from hipkb.teach.handout import render_handout

    kb, library = _library(rules_dir, facts_dir)
    text = render_handout(kb, api.reasoner_for(kb), library, library.get(case_id), audience=audience, fmt=fmt,
                          upto=upto, templates=templates)
    if output is None:
        click.echo(text, nl=False)
        return
    from hipkb.batch.outputs import write_atomic

    write_atomic(output, text)


@command.command("check")
@kb_options
def check(rules_dir: Path | None, facts_dir: Path | None) -> None:
    """Check the library: every case file, and that hipkb concludes at each case's last stage what it teaches."""
    from hipkb import api
    from hipkb.teach.reveal import verify_case

    kb, library = _library(rules_dir, facts_dir)
    reasoner = api.reasoner_for(kb)
    failed = 0
    for case in library.cases.values():
        for problem in verify_case(kb, reasoner, library.manifest, case):
            failed += 1
            click.echo(f"hipkb: {case.file}: {problem}", err=True)
    click.echo(f"{len(library.cases)} teaching case(s), {failed} problem(s)", err=True)
    if failed:
        raise click.exceptions.Exit(1)
