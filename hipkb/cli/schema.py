"""``hipkb schema``: the JSON Schema of case files, for editors and pipelines."""

from __future__ import annotations

import json
from pathlib import Path

import click

from hipkb.cli.common import kb_options, load_kb_from


@click.command("schema")
@kb_options
def command(rules_dir: Path | None, facts_dir: Path | None) -> None:
    """Print the JSON Schema (draft 2020-12) of hipkb-case/1 case files."""
    from hipkb.knowledge.schema import case_schema

    kb = load_kb_from(rules_dir, facts_dir)
    click.echo(json.dumps(case_schema(kb.vocabulary, sorted(kb.hypotheses)), indent=2, ensure_ascii=False))
