"""``hipkb compare``: run cases under two rule bases and list every change, and the rules behind it."""

from __future__ import annotations

import json
from pathlib import Path

import click

from hipkb.cli.common import DIR


@click.command("compare")
@click.argument("cases", nargs=-1)
@click.option("--rules", "rules_dirs", type=DIR, multiple=True, required=True,
              help="A rule directory; give it twice: --rules A --rules B.")
@click.option("--facts", "facts_dirs", type=DIR, multiple=True,
              help="Vocabulary directory: once for both, or twice (A then B); default: the shipped one.")
@click.option("--format", "fmt", type=click.Choice(("text", "json")), default="text", show_default=True,
              help="text for people; json: one hipkb-compare/1 object with every differing case.")
@click.option("--tolerance", type=click.FloatRange(min=0), default=0.0, show_default=True,
              help="A certainty that moves by this much or less is not a change (bands always are).")
@click.option("--questions", is_flag=True,
              help="Compare the next questions too (they move with almost any change of weight).")
@click.option("-j", "--jobs", type=click.IntRange(min=1), default=1, show_default=True,
              help="Worker processes.")
@click.option("--cluster", "cluster", metavar="ADDRESS", default=None,
              help="Run the cases on the Dask cluster at ADDRESS (tcp://host:8786, or local:N). Needs "
                   "pip install 'hipkb[dask]'.")
@click.option("--all", "show_all", is_flag=True, help="With --format json, list the cases that agree too.")
@click.option("--generated", type=click.IntRange(min=1), default=None, metavar="N",
              help="Also draw N cases from hipkb.testing.strategies, find those where A and B differ, and cut "
                   "each kind of difference down to a minimal case (needs pip install 'hipkb[test]').")
@click.option("--seed", type=int, default=0, show_default=True, help="With --generated: the seed of the draw.")
@click.option("-o", "--output", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="With --generated: write each minimal case into this directory as difference-N.yaml.")
def command(cases: tuple[str, ...], rules_dirs: tuple[Path, ...], facts_dirs: tuple[Path, ...], fmt: str,
            tolerance: float, questions: bool, jobs: int, cluster: str | None, show_all: bool,
            generated: int | None, seed: int,
            output: Path | None) -> None:
    """Run CASES (files, directories, or -) under rule bases A and B; list every change, and why.

    For each case: triage, running advice, red flags, referrals, exclusion
    status, the ranking, each hypothesis's band and certainty (moved by more
    than --tolerance), the rules that fired under one base only (and with
    --questions the next questions); then how many cases show each kind of
    change. The reasons are
    the rules that fired under one base and not the other, and rules with the
    same id written differently. Exit status: 0 when every case agrees, 1
    when some differ (like diff), 2 for bad usage or input.
    """
    from hipkb.cli.common import load_kb_from
    from hipkb.load.inputs import expand
    from hipkb.results import compare as cmp
    from hipkb.verify import compare_spread

    if len(rules_dirs) != 2:
        raise click.UsageError("give --rules exactly twice: --rules A --rules B")
    if len(facts_dirs) > 2:
        raise click.UsageError("give --facts at most twice")
    if not cases and generated is None:
        raise click.UsageError("give CASES, --generated N, or both")
    if output is not None and generated is None:
        raise click.UsageError("-o goes with --generated")
    if cluster is not None and jobs > 1:
        raise click.UsageError("--jobs and --cluster go apart: the cluster's workers do the work")
    if cluster is not None:
        from hipkb.batch.cluster import check_address

        check_address(cluster)
    facts: list[Path | None] = [*facts_dirs] or [None]
    kb_a = load_kb_from(rules_dirs[0], facts[0])
    kb_b = load_kb_from(rules_dirs[1], facts[-1])
    labels = (str(rules_dirs[0]), str(rules_dirs[1]))
    diffs = compare_spread.compare(kb_a, kb_b, list(expand(cases)), tolerance=tolerance, questions=questions,
                                   jobs=jobs, cluster=cluster) if cases else []
    changes = cmp.rule_changes(kb_a, kb_b)
    found = None
    if generated is not None:
        found = _generated(kb_a, kb_b, generated, seed, tolerance, questions, jobs, cluster, output)
    if fmt == "json":
        data = cmp.to_data(diffs, changes, labels, show_all=show_all, tolerance=tolerance, questions=questions)
        if found is not None:
            data["generated"] = {"seed": seed, **found.to_dict()}
        click.echo(json.dumps(data, ensure_ascii=False))
    else:
        click.echo(cmp.to_text(diffs, changes, labels) if cases else cmp.header(changes, labels), nl=False)
        if found is not None:
            click.echo(_generated_text(found, seed, bool(cases)), nl=False)
    if any(d.differs for d in diffs) or (found is not None and found.differing):
        raise click.exceptions.Exit(1)


def _generated(kb_a, kb_b, count: int, seed: int, tolerance: float, questions: bool, jobs: int,
               cluster: str | None, output: Path | None):
    try:
        from hipkb.testing.draws import draw_cases
    except ImportError:
        from hipkb.errors import HipkbError

        raise HipkbError("--generated", "", "drawing cases needs hypothesis: pip install 'hipkb[test]'") from None
    from hipkb.verify.differences import find

    found = find(kb_a, kb_b, draw_cases(kb_a, count, seed=seed), tolerance=tolerance, questions=questions, jobs=jobs,
                 cluster=cluster)
    if output is not None:
        from hipkb.batch.outputs import write_atomic
        from hipkb.errors import HipkbError
        from hipkb.results.compare import change_lines
        from hipkb.verify.report import case_yaml

        try:
            output.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise HipkbError(str(output), "", f"cannot create the directory: {error.strerror}") from None
        for difference in found.differences:
            comment = "\n".join([f"A and B differ here ({len(difference.drawn)} drawn case(s) came down to it):",
                                 *change_lines(difference.diff)])
            write_atomic(output / f"{difference.case['case_id']}.yaml", case_yaml(difference.case, comment))
    return found


def _generated_text(found, seed: int, after_cases: bool) -> str:
    import yaml

    from hipkb.results.compare import change_lines

    kinds = ", ".join(f"{k.replace('_', ' ')} {n}" for k, n in found.by_kind.items() if n)
    lines = [""] if after_cases else []
    lines.append(f"generated: {found.drawn} case(s) drawn (seed {seed}); {found.differing} differ"
                 + (f" ({kinds})" if kinds else "")
                 + (f"; {found.errors} could not run" if found.errors else ""))
    if found.differences:
        cut = f" ({found.not_shrunk} more not cut down)" if found.not_shrunk else ""
        lines.append(f"they come down to {len(found.differences)} minimal case(s){cut}:")
    for difference in found.differences:
        lines.append("")
        lines.append(f"{difference.case['case_id']} (from {len(difference.drawn)} drawn case(s)):")
        lines.extend(f"  {line}" for line in change_lines(difference.diff))
        body = {k: v for k, v in difference.case.items() if k != "case_id"}
        text = yaml.safe_dump(body, sort_keys=False, default_flow_style=None, allow_unicode=True)
        lines.extend(f"    {line}" for line in text.rstrip().splitlines())
    return "\n".join(lines) + "\n"
