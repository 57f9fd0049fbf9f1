"""``hipkb questionnaire``: the case form as a FHIR R4 Questionnaire, for form tools."""

from __future__ import annotations

import json
from pathlib import Path

import click

from hipkb.cli.common import kb_options, load_kb_from


@click.command("questionnaire")
@kb_options
def command(rules_dir: Path | None, facts_dir: Path | None) -> None:
    """Print the FHIR R4 Questionnaire (JSON) that collects a case.

    A QuestionnaireResponse to it is a case: `hipkb run response.json`.
    """
    from hipkb.fhir.questionnaire import questionnaire

    kb = load_kb_from(rules_dir, facts_dir)
    click.echo(json.dumps(questionnaire(kb.vocabulary), indent=2, ensure_ascii=False))
