"""``hipkb sensitivity``: which answers hang on which weights (a thin layer over :mod:`hipkb.verify.sensitivity`)."""

from __future__ import annotations

from pathlib import Path

import click

from hipkb.cli.common import kb_options, load_kb_from
from hipkb.verify.sensitivity import DEFAULT_STEP
from hipkb.verify.sensitivity_report import FORMATS


@click.command("sensitivity")
@click.argument("cases", nargs=-1)
@click.option("--step", type=float, default=DEFAULT_STEP, show_default=True,
              help="How far each weight and band threshold moves, up and down.")
@click.option("--generated", type=click.IntRange(min=1), default=None, metavar="N",
              help="Use N cases drawn from hipkb.testing.strategies (seeded; needs pip install 'hipkb[test]') "
                   "instead of CASES.")
@click.option("--seed", type=int, default=0, show_default=True, help="With --generated: the seed of the draw.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True,
              help="text, json (hipkb-sensitivity/1), md, or svg (a heat map of rules by cases).")
@click.option("--top", type=click.IntRange(min=1), default=20, show_default=True,
              help="How many rules and cases the text and Markdown tables show.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write to FILE instead of stdout.")
@click.option("-j", "--jobs", type=click.IntRange(min=1), default=1, show_default=True, help="Worker processes.")
@click.option("--cluster", "cluster", metavar="ADDRESS", default=None,
              help="Run on the Dask cluster at ADDRESS (tcp://host:8786, or local:N). Needs "
                   "pip install 'hipkb[dask]'.")
@kb_options
def command(cases: tuple[str, ...], step: float, generated: int | None, seed: int, fmt: str, top: int,
            output: Path | None, jobs: int, cluster: str | None, rules_dir: Path | None,
            facts_dir: Path | None) -> None:
    """Move each rule's weight and each band threshold by --step up and down; list the answers that change.

    An answer changes when a case's top hypothesis, triage or running advice
    differs from what the rule base says as it is. The cases: CASES (files or
    folders), --generated N, or else the example cases of the knowledge base
    (FACTS/cases). The most fragile rules and cases come first.
    """
    from hipkb.load.inputs import expand
    from hipkb.verify.sensitivity import data_sources, run
    from hipkb.verify.sensitivity_report import render

    if cases and generated is not None:
        raise click.UsageError("give CASES or --generated N, not both")
    if cluster is not None and jobs > 1:
        raise click.UsageError("--jobs and --cluster go apart: the cluster's workers do the work")
    if cluster is not None:
        from hipkb.batch.cluster import check_address

        check_address(cluster)
    kb = load_kb_from(rules_dir, facts_dir)
    if generated is not None:
        try:
            from hipkb.testing.draws import draw_cases
        except ImportError:
            from hipkb.errors import HipkbError

            raise HipkbError("--generated", "", "drawing cases needs hypothesis: pip install 'hipkb[test]'") from None
        sources = data_sources(draw_cases(kb, generated, seed=seed))
    else:
        if not cases:
            assert kb.facts_dir is not None
            cases = (str(kb.facts_dir / "cases"),)
        sources = list(expand(cases))
    report = run(kb, sources, step=step, jobs=jobs, cluster=cluster)
    text = render(report, fmt, top)
    if output is None:
        click.echo(text, nl=False)
    else:
        from hipkb.batch.outputs import write_atomic

        write_atomic(output, text, protect=[s.path for s in sources if s.path is not None])
