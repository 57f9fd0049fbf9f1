"""``hipkb compare``: run a case set under two rule bases and list the cases whose results differ."""

from __future__ import annotations

import json
from pathlib import Path

import click

from hipkb.cli.common import DIR


@click.command("compare")
@click.argument("cases", nargs=-1, required=True)
@click.option("--rules", "rules_dirs", type=DIR, multiple=True, required=True,
              help="A rule directory; give it twice: --rules A --rules B.")
@click.option("--facts", "facts_dirs", type=DIR, multiple=True,
              help="Vocabulary directory: once for both, or twice (A then B); default: the shipped one.")
@click.option("--format", "fmt", type=click.Choice(("text", "json")), default="text", show_default=True,
              help="text for people; json: one object with every differing case.")
@click.option("--cluster", "cluster", metavar="ADDRESS", default=None,
              help="Run the cases on the Dask cluster at ADDRESS (tcp://host:8786, or local:N). Needs "
                   "pip install 'hipkb[dask]'.")
@click.option("--all", "show_all", is_flag=True, help="With --format json, list the cases that agree too.")
def command(cases: tuple[str, ...], rules_dirs: tuple[Path, ...], facts_dirs: tuple[Path, ...], fmt: str,
            show_all: bool, cluster: str | None) -> None:
    """Run CASES (files, directories, or -) under rule bases A and B; list the cases that differ, and why.

    A case differs when its ranking of hypotheses, its triage, its running
    advice or its red flags differ; the reasons are the rules that fired
    under one and not the other, and rules with the same id written
    differently. Exit status: 0 when every case agrees, 1 when some differ
    (like diff), 2 for bad usage or input.
    """
    from hipkb.cli.common import load_kb_from
    from hipkb.load.inputs import expand
    from hipkb.results import compare as cmp

    if len(rules_dirs) != 2:
        raise click.UsageError("give --rules exactly twice: --rules A --rules B")
    if len(facts_dirs) > 2:
        raise click.UsageError("give --facts at most twice")
    facts: list[Path | None] = [*facts_dirs] or [None]
    facts_a, facts_b = facts[0], facts[-1]
    if cluster is not None:
        from hipkb.batch.cluster import check_address

        check_address(cluster)
    kb_a = load_kb_from(rules_dirs[0], facts_a)
    kb_b = load_kb_from(rules_dirs[1], facts_b)
    sources = list(expand(cases))
    if cluster is not None:
        from hipkb.batch.cluster import remote_compare

        assert kb_a.facts_dir is not None and kb_b.facts_dir is not None
        diffs = list(remote_compare(cluster, (kb_a.rules_dir, kb_a.facts_dir), (kb_b.rules_dir, kb_b.facts_dir),
                                    sources))
    else:
        diffs = cmp.compare(kb_a, kb_b, sources)
    changes = cmp.rule_changes(kb_a, kb_b)
    differing = [d for d in diffs if d.differs]
    if fmt == "json":
        shown = diffs if show_all else differing
        click.echo(json.dumps({
            "format": "hipkb-compare/1",
            "a": str(rules_dirs[0]), "b": str(rules_dirs[1]),
            "rules": changes,
            "cases": len(diffs), "differing": len(differing),
            "diffs": [d.to_dict() for d in shown],
        }, ensure_ascii=False))
    else:
        click.echo(cmp.to_text(diffs, changes, (str(rules_dirs[0]), str(rules_dirs[1]))), nl=False)
    if differing:
        raise click.exceptions.Exit(1)
