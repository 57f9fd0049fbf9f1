"""What the case page is built from: the vocabulary as a form, the body map, the knowledge base's words.

The page holds no list of fields or regions of its own: everything it shows
comes from here, so a field or a region the knowledge engineer adds to
``facts/vocabulary.yaml`` appears in the browser without touching the page.
"""

from __future__ import annotations

from typing import Any

from hipkb.knowledge.encounter import FIELDS as ENCOUNTER_FIELDS
from hipkb.knowledge.encounter import GROUP as ENCOUNTER
from hipkb.knowledge.rules import KnowledgeBase
from hipkb.knowledge.scales import RUNNING_ADVICE, TRIAGE_LEVELS
from hipkb.knowledge.vocabulary import Field, Vocabulary
from hipkb.report.svg import BACK_X, BODYMAP_SIZE, FRONT_X, REGION_SHAPES, figure_outline
from hipkb.results.explain import RUNNING_TEXT, TRIAGE_TEXT

REGIONS = "pain.regions"
SIDE = "pain.side"
SIDES = ("right", "left")


def field_form(spec: Field) -> dict[str, Any]:
    """One field as the page draws it: widget type, allowed values with their words, the question."""
    return {
        "path": spec.path,
        "name": spec.name,
        "type": spec.type,
        "values": [{"value": value, "text": text} for value, text in spec.values.items()],
        "question": spec.question or spec.description or spec.name.replace("_", " "),
        "min": spec.minimum,
        "max": spec.maximum,
        "required": spec.required,
        "min_items": spec.min_items,
    }


def vocabulary_form(vocabulary: Vocabulary) -> dict[str, Any]:
    """Every group and field of the vocabulary, in file order, the encounter, and the body map."""
    return {
        "name": vocabulary.name,
        "encounter": {"name": ENCOUNTER, "label": "The encounter (for the report; never reasoned on)",
                      "fields": [{"path": f"{ENCOUNTER}.{f.name}", "name": f.name, "label": f.label,
                                  "description": f.description, "kind": f.kind, "max_length": f.max_length}
                                 for f in ENCOUNTER_FIELDS]},
        "groups": [
            {"name": group.name, "label": group.label,
             "fields": [field_form(spec) for spec in group.fields.values()]}
            for group in vocabulary.groups.values()
        ],
        "bodymap": bodymap(vocabulary),
    }


def bodymap(vocabulary: Vocabulary) -> dict[str, Any]:
    """Figures and clickable shapes for every region value of the vocabulary.

    A region the drawing knows (:data:`hipkb.report.svg.REGION_SHAPES`) gets
    its shapes; any other region value still gets a button beside the map
    (``shapes`` empty). When the vocabulary records the painful side
    (``pain.side`` with ``left`` and ``right``), each shape off the midline
    is drawn on both sides, and clicking one also sets the side.
    """
    regions_field = vocabulary.fields.get(REGIONS)
    side_field = vocabulary.fields.get(SIDE)
    sides = [s for s in SIDES if side_field is not None and s in side_field.values]
    centres = {"front": FRONT_X, "back": BACK_X}
    regions = []
    for rid, text in (regions_field.values.items() if regions_field else ()):
        shapes = []
        for view, dx, cy, rx, ry in REGION_SHAPES.get(rid, ()):
            # The drawing puts a region on the runner's right: the viewer's
            # left from the front (dx < 0), the viewer's right from the back.
            on_sides = sides if sides and dx != 0 else [None]
            for side in on_sides:
                sign = -1 if side == "left" else 1
                shapes.append({"view": view, "side": side, "cx": centres[view] + sign * dx, "cy": cy,
                               "rx": rx, "ry": ry})
        regions.append({"id": rid, "text": text, "shapes": shapes})
    width, height = BODYMAP_SIZE
    return {
        "width": width, "height": height,
        "views": [{"name": name, "x": x, "outline": figure_outline(x)} for name, x in centres.items()],
        "regions": regions,
        "field": REGIONS if regions_field else None,
        "side_field": SIDE if sides else None,
        "sides": sides,
        "side_values": list(side_field.values) if side_field else [],
    }


def knowledge_form(kb: KnowledgeBase) -> dict[str, Any]:
    """The knowledge base's hypotheses (with learning points), triage levels and running advice."""
    return {
        "name": kb.name,
        "version": kb.version,
        "rules": len(kb.rules),
        "hypotheses": [
            {"id": h.id, "label": h.label, "description": h.description, "source": h.source,
             "teaching": kb.teaching[h.id].to_dict() if h.id in kb.teaching else None}
            for h in kb.hypotheses.values()
        ],
        "derived": {name: {"label": d.label, "values": dict(d.values)} for name, d in kb.derived.items()},
        "red_flags": {fid: flag.label for fid, flag in kb.red_flags.items()},
        "triage_levels": [{"id": level, "text": TRIAGE_TEXT.get(level, level)} for level in TRIAGE_LEVELS],
        "running_advice": [{"id": advice, "text": RUNNING_TEXT.get(advice, advice)} for advice in RUNNING_ADVICE],
    }
