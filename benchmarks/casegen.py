"""Seeded random case files over the vocabulary, for benchmarks and batch tests.

Deliberately independent of hipkb's own code (it reads ``vocabulary.yaml``
with plain PyYAML), so that old and new versions of the shell can be compared
on exactly the same cases. Not the hypothesis strategies of
``hipkb.testing``: a benchmark needs a fixed set that is the same on every run
and every machine, and drawing it must cost nothing next to what is measured.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

KNOWN = 0.55  # chance that a field is given; the rest is left unknown


def load_vocabulary(facts_dir: Path) -> dict[str, Any]:
    """The ``groups`` mapping of a vocabulary file."""
    with open(Path(facts_dir) / "vocabulary.yaml", encoding="utf-8") as handle:
        return yaml.safe_load(handle)["groups"]


def _value(rng: random.Random, spec: dict[str, Any]) -> Any:
    kind = spec["type"]
    if kind == "choice":
        values = [str(v) for v in spec["values"]] + [str(u) for u in spec.get("unknown", ())]
        value = rng.choice(values)
        if value in ("yes", "no") and rng.random() < 0.2:
            return value == "yes"  # the boolean spelling is valid too
        return value
    if kind == "set":
        values = [str(v) for v in spec["values"]]
        low = max(int(spec.get("min_items", 0)), 1 if spec.get("required") else 0)
        count = rng.randint(low, min(len(values), 3))
        return rng.sample(values, count)
    if kind == "integer":
        return rng.randint(int(spec.get("min", 0)), int(spec.get("max", 100)))
    if kind == "number":
        high = spec.get("max")
        high = min(float(high), 52.0) if high is not None else 52.0
        return round(rng.uniform(float(spec.get("min", 0)), high), 1)
    return "text"


def generate(groups: dict[str, Any], count: int, seed: int = 2026, prefix: str = "gen") -> Iterator[dict[str, Any]]:
    """*count* valid case mappings, the same ones for the same seed."""
    rng = random.Random(seed)
    for index in range(count):
        case: dict[str, Any] = {"format": "hipkb-case/1", "case_id": f"{prefix}-{index:06d}"}
        for gname, group in groups.items():
            values = {}
            for fname, spec in group["fields"].items():
                if spec.get("required") or rng.random() < KNOWN:
                    values[fname] = _value(rng, spec)
            if values:
                case[gname] = values
        yield case


def corrupt(case: dict[str, Any], rng: random.Random) -> tuple[dict[str, Any], str]:
    """A copy of *case* with one field or value made invalid; returns it and the field path."""
    bad = {k: (dict(v) if isinstance(v, dict) else v) for k, v in case.items()}
    groups = [g for g in bad if isinstance(bad[g], dict)]
    group = rng.choice(groups)
    how = rng.randrange(3)
    if how == 0:
        bad[group]["no_such_field"] = "x"
        return bad, f"{group}.no_such_field"
    field = rng.choice(sorted(bad[group]))
    if how == 1:
        bad[group][field] = "not-a-value"
    else:
        bad[group][field] = {"nested": True}
    return bad, f"{group}.{field}"
