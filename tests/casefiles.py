"""Case files for the batch tests: valid case mappings drawn from a vocabulary, written one file each."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any


def generated(kb: Any, count: int, seed: int = 1) -> list[dict[str, Any]]:
    """*count* valid case mappings drawn from the vocabulary, the same for the same seed."""
    rng = random.Random(seed)
    cases = []
    for index in range(count):
        case: dict[str, Any] = {"case_id": f"gen-{index:04d}"}
        for gname, group in kb.vocabulary.groups.items():
            values: dict[str, Any] = {}
            for fname, spec in group.fields.items():
                if not (spec.required or rng.random() < 0.5):
                    continue
                if spec.type == "choice":
                    values[fname] = rng.choice(list(spec.values))
                elif spec.type == "set":
                    values[fname] = rng.sample(list(spec.values), rng.randint(max(spec.min_items, 1), 2))
                elif spec.type == "integer":
                    values[fname] = rng.randint(int(spec.minimum or 0), int(spec.maximum or 100))
                elif spec.type == "number":
                    values[fname] = round(rng.uniform(spec.minimum or 0, min(spec.maximum or 50, 50)), 1)
            if values:
                case[gname] = values
        cases.append(case)
    return cases


def write_cases(directory: Path, cases: list[dict[str, Any]], suffix: str = ".json") -> list[Path]:
    """Each of *cases* as ``<case_id><suffix>`` (JSON text) in *directory*, made if need be; the paths written."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for case in cases:
        path = directory / f"{case['case_id']}{suffix}"
        path.write_text(json.dumps(case), encoding="utf-8")
        paths.append(path)
    return paths
