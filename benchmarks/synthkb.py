"""A seeded synthetic rule base of a chosen size, in the shipped KB's shape.

The shipped rules are being written; to measure and profile the engine at the
size the knowledge base is heading for (about 90 rules) before it gets there,
this writes a rules directory that uses the shipped manifest (``kb.yaml``:
hypotheses, derived facts, red flags) and the shipped vocabulary, with rules
in every layer: patterns, screens, evidence for and against (some reading
derived facts and red flags), triage, running advice and questions to avoid.
Its clinical content is random; its shape is what matters here.
"""

from __future__ import annotations

import random
import shutil
from pathlib import Path
from typing import Any

import yaml


def _case_condition(rng: random.Random, groups: dict[str, Any], only: tuple[str, ...] = ()) -> tuple[str, Any]:
    names = [g for g in groups if not only or g in only]
    group = rng.choice(names)
    fields = {k: v for k, v in groups[group]["fields"].items() if v["type"] in ("choice", "set", "integer", "number")}
    name = rng.choice(sorted(fields))
    spec = fields[name]
    key = f"{group}.{name}"
    values = [str(v) for v in spec.get("values", {})]
    if spec["type"] == "choice":
        if len(values) > 2 and rng.random() < 0.3:
            return key, {"in": rng.sample(values, 2)}
        if rng.random() < 0.15:
            return key, {"not": rng.choice(values)}
        return key, rng.choice(values)
    if spec["type"] == "set":
        return key, {"any": rng.sample(values, rng.randint(1, 2))}
    low = float(spec.get("min", 0))
    return key, {"min": round(low + rng.random() * 10, 1)}


def write(target: Path, size: int, rules_dir: Path, facts_dir: Path, seed: int = 7) -> Path:
    """Write a rules directory of about *size* rules to *target*; return it."""
    rng = random.Random(seed)
    target.mkdir(parents=True, exist_ok=True)
    shutil.copy(rules_dir / "kb.yaml", target / "kb.yaml")
    manifest = yaml.safe_load((rules_dir / "kb.yaml").read_text(encoding="utf-8"))
    groups = yaml.safe_load((facts_dir / "vocabulary.yaml").read_text(encoding="utf-8"))["groups"]
    source = "seed: " + manifest["seed_sections"][0]
    hypotheses = list(manifest["hypotheses"])
    flags = list(manifest["red_flags"])
    derived = [(name, str(v)) for name, spec in manifest["derived"].items() for v in spec["values"]]

    patterns, screens, evidence, decisions = [], [], [], []
    n_patterns = max(len(derived), size // 6)
    produced: list[tuple[str, str]] = []
    for i in range(n_patterns):
        name, value = derived[i % len(derived)]
        when = dict(_case_condition(rng, groups) for _ in range(rng.randint(1, 3)))
        earlier = [d for d in produced if d[0] != name]
        if earlier and rng.random() < 0.25:
            dn, dv = rng.choice(earlier)
            when[dn] = dv
        produced.append((name, value))
        patterns.append({"id": f"PAT-{i:03d}", "title": f"pattern {i}", "source": source,
                         "when": when, "then": {"derive": {name: value}}})
    for i, flag in enumerate(flags):
        when = dict(_case_condition(rng, groups, ("neuro", "systemic", "behaviour")) for _ in range(rng.randint(1, 2)))
        screens.append({"id": f"RF-{i:03d}", "title": f"screen {i}", "source": source,
                        "when": when, "then": {"red_flag": flag}})
    n_decisions = 4 + len(hypotheses) // 2
    n_evidence = max(len(hypotheses), size - len(patterns) - len(screens) - n_decisions)
    for i in range(n_evidence):
        hyp = hypotheses[i % len(hypotheses)]
        when = dict(_case_condition(rng, groups) for _ in range(rng.randint(1, 3)))
        if rng.random() < 0.5:
            dn, dv = rng.choice(produced)
            when[dn] = dv
        if rng.random() < 0.05:
            when["red_flag"] = "any"
        kind = "against" if i >= len(hypotheses) and rng.random() < 0.25 else "supports"
        evidence.append({"id": f"EV-{i:03d}", "title": f"evidence {i}", "source": source, "when": when,
                         "then": {kind: hyp, "weight": round(rng.uniform(0.1, 0.8), 2)}})
    decisions.append({"id": "TRIAGE-DEFAULT", "title": "default", "source": source,
                      "then": {"triage": "routine", "summary": "See a clinician."}})
    decisions.append({"id": "TRIAGE-FLAG", "title": "flag", "source": source, "when": {"red_flag": "any"},
                      "then": {"triage": "urgent", "summary": "Promptly."}})
    decisions.append({"id": "TRIAGE-EMERG", "title": "emergency", "source": source,
                      "when": {"red_flag": {"in": flags[:2]}},
                      "then": {"triage": "emergency", "summary": "Now."}})
    decisions.append({"id": "AVOID-HOP", "title": "avoid", "source": source,
                      "when": {f"hypothesis.{hypotheses[0]}": {"at_least": "possible"}},
                      "then": {"avoid_asking": ["behaviour.hopping", "exam.single_leg_hop"]}})
    for i, hyp in enumerate(hypotheses[: n_decisions - 4]):
        band = "possible" if i % 2 else "likely"
        advice = ("stop", "reduce", "continue_as_tolerated")[i % 3]
        decisions.append({"id": f"RUN-{i:03d}", "title": f"running {i}", "source": source,
                          "when": {f"hypothesis.{hyp}": {"at_least": band}}, "then": {"running": advice}})
    for name, rules in (("patterns", patterns), ("screens", screens), ("evidence", evidence),
                        ("decisions", decisions)):
        text = yaml.safe_dump({"topic": name, "rules": rules}, sort_keys=False)
        (target / f"{name}.yaml").write_text(text, encoding="utf-8")
    return target
