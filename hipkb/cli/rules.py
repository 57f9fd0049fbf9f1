"""``hipkb rules``: browse the knowledge base: list the rules, show one, draw the dependency graph."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from hipkb.cli.common import kb_options, load_kb_from
from hipkb.knowledge.kinds import Kind

KINDS = tuple(kind.value for kind in Kind)


def _rule_data(rule) -> dict[str, Any]:
    c = rule.conclusion
    return {
        "id": rule.id,
        "title": rule.title,
        "source": rule.source,
        "topic": rule.topic,
        "file": Path(rule.file).name if rule.file else "",
        "layer": rule.layer,
        "when": [c.describe() for c in rule.conditions],
        "then": {"kind": c.kind, "asserted": c.asserted(), **({"text": c.text} if c.text else {})},
        **({"note": rule.note} if rule.note else {}),
    }


@click.group("rules")
def command() -> None:
    """Browse the knowledge base: its hypotheses and references, the rules, one rule, the dependency graph."""


@command.command("hypotheses")
@kb_options
@click.option("--format", "fmt", type=click.Choice(("text", "json")), default="text", show_default=True)
def hypotheses(rules_dir: Path | None, facts_dir: Path | None, fmt: str) -> None:
    """List the hypotheses the knowledge base can conclude: id and label, alarm hypotheses marked."""
    kb = load_kb_from(rules_dir, facts_dir)
    alarms = set(kb.safety.alarm_hypotheses)
    rows = [{"id": h.id, "label": h.label, "alarm": h.id in alarms, "description": h.description,
             "source": h.source} for h in kb.hypotheses.values()]
    if fmt == "json":
        click.echo(json.dumps(rows, ensure_ascii=False))
        return
    width = max((len(r["id"]) for r in rows), default=0)
    for r in rows:
        click.echo(f"{r['id']:<{width}}  {r['label']}{'  [alarm]' if r['alarm'] else ''}")
    click.echo(f"{len(rows)} hypothes{'i' if len(rows) == 1 else 'e'}s of {kb.name} {kb.version}; "
               "[alarm]: must not be missed (kb.yaml safety)", err=True)


@command.command("references")
@kb_options
@click.option("--format", "fmt", type=click.Choice(("text", "json")), default="text", show_default=True)
def references(rules_dir: Path | None, facts_dir: Path | None, fmt: str) -> None:
    """List the publications the knowledge base cites (references.yaml), with the short forms rules use."""
    kb = load_kb_from(rules_dir, facts_dir)
    refs = list(kb.references.entries.values()) if kb.references else []
    if fmt == "json":
        click.echo(json.dumps([{"key": r.key, "reference": r.text, "cited_as": list(r.cited_as), "seed": r.seed,
                                "incomplete": r.incomplete, **({"note": r.note} if r.note else {})} for r in refs],
                              ensure_ascii=False))
        return
    for r in refs:
        forms = "seed: <section>" if r.seed else "; ".join(r.cited_as)
        click.echo(f"{r.key}: {r.text}")
        click.echo(f"    cited as: {forms}")
    click.echo(f"{len(refs)} reference(s) of {kb.name} {kb.version}" if kb.references else
               f"{kb.name} {kb.version} has no references.yaml: its sources are shown as written", err=True)


@command.command("list")
@kb_options
@click.option("--kind", type=click.Choice(KINDS), default=None, help="Only rules concluding this kind.")
@click.option("--format", "fmt", type=click.Choice(("text", "json")), default="text", show_default=True)
def list_rules(rules_dir: Path | None, facts_dir: Path | None, kind: str | None, fmt: str) -> None:
    """List the rules, layer by layer: id, what each concludes, its title."""
    kb = load_kb_from(rules_dir, facts_dir)
    rules = sorted((r for r in kb.rules if kind is None or r.conclusion.kind == kind), key=lambda r: (r.layer, r.id))
    if fmt == "json":
        click.echo(json.dumps([_rule_data(r) for r in rules], ensure_ascii=False))
        return
    width = max((len(r.id) for r in rules), default=0)
    conclusion_width = min(40, max((len(r.conclusion.asserted()) for r in rules), default=0))
    for r in rules:
        click.echo(f"{r.id:<{width}}  {r.conclusion.asserted():<{conclusion_width}}  {r.title}")
    click.echo(f"{len(rules)} rule(s) of {kb.name} {kb.version}", err=True)


@command.command("show")
@click.argument("rule_id")
@kb_options
@click.option("--format", "fmt", type=click.Choice(("text", "json")), default="text", show_default=True)
def show(rule_id: str, rules_dir: Path | None, facts_dir: Path | None, fmt: str) -> None:
    """Show one rule: its conditions, conclusion and source, what produces its inputs, what reads its conclusion."""
    from hipkb.errors import HipkbError, did_you_mean
    from hipkb.knowledge.index import index
    from hipkb.knowledge.kinds import Subject

    kb = load_kb_from(rules_dir, facts_dir)
    rule = kb.rule(rule_id) or kb.rule(rule_id.upper())
    if rule is None:
        raise HipkbError(rule_id, "", "no such rule" + did_you_mean(rule_id.upper(), kb.by_id))
    idx = index(kb)
    inputs = [{"condition": c.describe(), "from": [r.id for r in idx.producers(c)]}
              for c in rule.conditions if c.kind is not Subject.CASE]
    readers = [r.id for r in idx.readers(rule)]
    cited = kb.references.resolve(rule.source) if kb.references else []
    full = [kb.references.entries[c.key].text for c in cited if c.key] if kb.references else []
    data = {**_rule_data(rule), "inputs": inputs, "read_by": readers, "references": list(dict.fromkeys(full))}
    if fmt == "json":
        click.echo(json.dumps(data, ensure_ascii=False))
        return
    click.echo(f"{rule.id}: {rule.title}")
    click.echo(f"  source: {rule.source}")
    for ref in data["references"]:
        click.echo(f"          {ref}")
    click.echo(f"  file:   {data['file']} (topic: {rule.topic}, layer {rule.layer})")
    click.echo("  when:" if rule.conditions else "  when:   always (no conditions)")
    for line in data["when"]:
        click.echo(f"    - {line}")
    click.echo(f"  then:   {rule.conclusion.asserted()}")
    if rule.conclusion.text:
        click.echo(f"          \"{rule.conclusion.text}\"")
    if rule.note:
        click.echo(f"  note:   {rule.note}")
    for item in inputs:
        click.echo(f"  '{item['condition']}' comes from: {', '.join(item['from']) or 'nothing'}")
    if readers:
        click.echo(f"  read by: {', '.join(readers)}")


@command.command("graph")
@kb_options
@click.option("--format", "fmt", type=click.Choice(("dot", "mermaid")), default="dot", show_default=True,
              help="Graphviz DOT or a Mermaid flowchart.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write to FILE instead of stdout.")
def graph(rules_dir: Path | None, facts_dir: Path | None, fmt: str, output: Path | None) -> None:
    """Write the rule dependency graph: findings -> patterns -> red flags -> hypotheses -> triage and advice."""
    from hipkb.knowledge.rulegraph import to_dot, to_mermaid

    kb = load_kb_from(rules_dir, facts_dir)
    text = to_dot(kb) if fmt == "dot" else to_mermaid(kb)
    if output is None:
        click.echo(text, nl=False)
    else:
        from hipkb.batch.outputs import write_atomic

        write_atomic(output, text)
