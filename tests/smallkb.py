"""Small rule bases written for a test, so that tests of the research tools never depend on the shipped rules.

:func:`write_kb` writes ``kb.yaml`` and ``rules.yaml`` into a directory: three
hypotheses (one of them an alarm), a red flag, triage and running rules and
their defaults. Any rule's weight can be set, rules dropped or added, so a
test builds the variant it needs (a weight moved, a rule planted).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

MANIFEST = {
    "format": "hipkb-kb/1",
    "name": "small",
    "version": "0.0.1",
    "hypotheses": {
        "gluteus_medius_tendinopathy": {"label": "Gluteus medius tendinopathy"},
        "hip_osteoarthritis": {"label": "Hip osteoarthritis"},
        "femoral_neck_bsi": {"label": "Femoral neck bone stress injury"},
    },
    "red_flags": {"possible_fracture": {"label": "Possible fracture", "emergency": True}},
    "safety": {"alarm_hypotheses": ["femoral_neck_bsi"], "bone_stress_injuries": ["femoral_neck_bsi"],
               "unsafe_tests": ["behaviour.hopping", "exam.single_leg_hop"]},
}


def _rule(rid: str, when: dict[str, Any], then: dict[str, Any], title: str = "") -> dict[str, Any]:
    return {"id": rid, "title": title or rid.replace("-", " ").lower(), "source": "test fixture",
            "when": when, "then": then}


def rules(weights: dict[str, float] | None = None) -> list[dict[str, Any]]:
    """The rules of the small base, with *weights* overriding the evidence weights by rule id."""
    w = {"GMED-LATERAL": 0.5, "GMED-TENDER": 0.45, "OA-AGE": 0.4, "OA-GROIN": 0.2, "FNBSI-WALKING": 0.5,
         "FNBSI-HOP": 0.45, "GMED-AGAINST-WALKING": 0.3, **(weights or {})}
    return [
        _rule("GMED-LATERAL", {"pain.regions": {"any": ["lateral_hip"]}},
              {"supports": "gluteus_medius_tendinopathy", "weight": w["GMED-LATERAL"]}),
        _rule("GMED-TENDER", {"exam.trochanter_palpation": "painful"},
              {"supports": "gluteus_medius_tendinopathy", "weight": w["GMED-TENDER"]}),
        _rule("GMED-AGAINST-WALKING", {"behaviour.walking": "painful"},
              {"against": "gluteus_medius_tendinopathy", "weight": w["GMED-AGAINST-WALKING"]}),
        _rule("OA-AGE", {"runner.age": {"min": 45}}, {"supports": "hip_osteoarthritis", "weight": w["OA-AGE"]}),
        _rule("OA-GROIN", {"pain.regions": {"any": ["groin"]}, "runner.age": {"min": 45}},
              {"supports": "hip_osteoarthritis", "weight": w["OA-GROIN"]}),
        _rule("FNBSI-WALKING", {"pain.regions": {"any": ["groin", "lateral_hip"]}, "behaviour.walking": "painful"},
              {"supports": "femoral_neck_bsi", "weight": w["FNBSI-WALKING"]}),
        _rule("FNBSI-HOP", {"pain.regions": {"any": ["groin", "lateral_hip"]}, "behaviour.hopping": "painful"},
              {"supports": "femoral_neck_bsi", "weight": w["FNBSI-HOP"]}),
        _rule("RF-FRACTURE", {"systemic.unable_to_bear_weight": "yes"}, {"red_flag": "possible_fracture"}),
        _rule("TRIAGE-FRACTURE", {"red_flag": "possible_fracture"},
              {"triage": "emergency", "summary": "Get emergency care now."}),
        _rule("TRIAGE-FNBSI", {"hypothesis.femoral_neck_bsi": {"at_least": "possible"}},
              {"triage": "urgent", "summary": "See a clinician promptly."}),
        _rule("TRIAGE-OSTEOARTHRITIS", {"hypothesis.hip_osteoarthritis": {"at_least": "possible"}},
              {"triage": "routine", "summary": "See a physiotherapist."}),
        _rule("TRIAGE-SELF-CARE", {}, {"triage": "self_care", "summary": "Manage the load.", "default": True}),
        _rule("RUN-STOP-FNBSI", {"hypothesis.femoral_neck_bsi": {"at_least": "possible"}}, {"running": "stop"}),
        _rule("RUN-STOP-RED-FLAG", {"red_flag": "any"}, {"running": "stop"}),
        _rule("RUN-REDUCE-OA", {"hypothesis.hip_osteoarthritis": {"at_least": "possible"}}, {"running": "reduce"}),
        _rule("RUN-CONTINUE", {}, {"running": "continue_as_tolerated", "default": True}),
        _rule("AVOID-HOP", {"hypothesis.femoral_neck_bsi": {"at_least": "possible"}},
              {"avoid_asking": ["behaviour.hopping", "exam.single_leg_hop"], "reason": "a hop can break it"}),
    ]


def write_kb(directory: Path, *, weights: dict[str, float] | None = None, drop: tuple[str, ...] = (),
             extra: list[dict[str, Any]] | None = None, manifest: dict[str, Any] | None = None) -> Path:
    """Write the small base into *directory* (made if missing); its path."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "kb.yaml").write_text(yaml.safe_dump({**MANIFEST, **(manifest or {})}, sort_keys=False))
    chosen = [r for r in rules(weights) if r["id"] not in drop] + list(extra or [])
    (directory / "rules.yaml").write_text(yaml.safe_dump({"topic": "small", "rules": chosen}, sort_keys=False))
    return directory


def rule(rid: str, when: dict[str, Any], then: dict[str, Any]) -> dict[str, Any]:
    """One more rule, written as a rule file holds it."""
    return _rule(rid, when, then)
