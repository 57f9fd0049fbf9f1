"""Geometry for the report pictures: the body map and the reasoning graph.

Only numbers and words are computed here, as plain dicts; the SVG markup is
written by the templates in ``reports/`` (``_bodymap.svg.j2``,
``_graph.svg.j2``), so that every text in a picture goes through the same
autoescaping as the rest of the HTML. No graphviz or other binary is needed:
the graph gets a small layered (Sugiyama-style) layout computed here.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

# -- body map ----------------------------------------------------------------
# Two simple figures, front and back, drawn by hand in a 420 x 360 box.
# Regions are drawn on the side that hurts (``pain.side``); when a case does
# not say, on the runner's right: the viewer's left in the front view, the
# viewer's right in the back.
FRONT_X, BACK_X = 105, 315
BODYMAP_SIZE = (420, 360)


def figure_outline(cx: int) -> list[str]:
    """Outline paths of one standing figure centred on *cx* (same shape front and back)."""
    def p(points: Sequence[tuple[float, float]]) -> str:
        return "M " + " L ".join(f"{cx + x:g},{y:g}" for x, y in points) + " Z"

    torso = (f"M {cx - 36},60 Q {cx},50 {cx + 36},60 L {cx + 31},150 "
             f"L {cx + 36},190 L {cx - 36},190 L {cx - 31},150 Z")
    return [
        torso,
        p([(-8, 42), (8, 42), (9, 56), (-9, 56)]),                              # neck
        p([(-36, 60), (-45, 66), (-56, 150), (-50, 178), (-43, 176), (-44, 150), (-34, 90)]),  # arm
        p([(36, 60), (45, 66), (56, 150), (50, 178), (43, 176), (44, 150), (34, 90)]),
        p([(-36, 190), (-2, 190), (-7, 262), (-10, 340), (-26, 340), (-32, 262)]),  # leg
        p([(36, 190), (2, 190), (7, 262), (10, 340), (26, 340), (32, 262)]),
    ]


# Region -> (view, ellipse centre x offset, centre y, rx, ry). Offsets are
# from the figure's centre; negative is the viewer's left.
REGION_SHAPES: dict[str, tuple[tuple[str, float, float, float, float], ...]] = {
    "groin": (("front", -13, 194, 10, 8),),
    "lateral_hip": (("front", -35, 180, 7, 14), ("back", 35, 180, 7, 14)),
    "anterior_thigh": (("front", -22, 228, 9, 26),),
    "inner_thigh": (("front", -7, 224, 5, 20),),
    "buttock": (("back", 16, 174, 15, 13),),
    "posterior_thigh": (("back", 18, 230, 11, 26),),
    "lower_back": (("back", 0, 136, 22, 11),),
    "knee": (("front", -19, 276, 9, 11), ("back", 19, 276, 9, 11)),
}


def _on_side(shapes: tuple[tuple[str, float, float, float, float], ...],
             side: str | None) -> tuple[tuple[str, float, float, float, float], ...]:
    """The shapes of a region (drawn on the runner's right) on the painful side: mirrored, or both."""
    mirrored = tuple((view, -dx, cy, rx, ry) for view, dx, cy, rx, ry in shapes if dx)
    if side == "left":
        return tuple((view, -dx, cy, rx, ry) for view, dx, cy, rx, ry in shapes)
    if side == "both":
        return shapes + mirrored
    return shapes


#: What the body map's caption says of the side it is drawn on.
SIDE_CAPTIONS = {
    "left": "Drawn on the runner's left, the side the case records.",
    "right": "Drawn on the runner's right, the side the case records.",
    "both": "Drawn on both sides, as the case records.",
    "": "The case does not record the side: drawn on the runner's right.",
}


# -- reasoning graph ---------------------------------------------------------
NODE_WIDTH = 190
COLUMN_GAP = 70
ROW_GAP = 12
LINE_HEIGHT = 14
PAD = 8
WRAP = 27
MARGIN = 10
COLUMN_TITLES = ("Findings", "Patterns", "Red flags and hypotheses", "Triage and running")
KIND_COLUMN = {"finding": 0, "derived": 1, "red_flag": 2, "hypothesis": 2, "triage": 3, "running": 3}


def layout_graph(nodes: Sequence[Mapping[str, Any]], edges: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """A layered layout of a reasoning graph, left to right.

    *nodes*: ``{"id", "kind", "label", "sub", "order"}`` (``order``, optional,
    fixes a node's place in its column: red flags, hypotheses by rank); *edges*: ``{"source",
    "target", "rule", "sign"}`` (sign ``+``, ``-`` or ``""``). Columns are
    fixed by kind (findings, patterns, red flags and hypotheses, decisions);
    derived facts that rest on other derived facts get a column of their own.
    Rows are ordered by the barycentre of their predecessors (two sweeps), ties
    by id, so the picture is deterministic. Returns node boxes with wrapped
    text lines, edges as cubic Bézier path data, columns and the overall size.
    """
    ids = {n["id"] for n in nodes}
    edges = [e for e in edges if e["source"] in ids and e["target"] in ids and e["source"] != e["target"]]
    preds: dict[str, list[str]] = {n["id"]: [] for n in nodes}
    for e in edges:
        if e["source"] not in preds[e["target"]]:
            preds[e["target"]].append(e["source"])

    # Depth among derived facts: a pattern built on a pattern sits further right.
    kinds = {n["id"]: n["kind"] for n in nodes}
    depth: dict[str, int] = {}

    def derived_depth(nid: str, stack: frozenset[str] = frozenset()) -> int:
        if nid in depth:
            return depth[nid]
        inner = [p for p in preds[nid] if kinds[p] == "derived" and p not in stack]
        d = 1 + max((derived_depth(p, stack | {nid}) for p in inner), default=-1)
        depth[nid] = d
        return d

    max_derived = max((derived_depth(n["id"]) for n in nodes if n["kind"] == "derived"), default=0)
    present_kinds = {n["kind"] for n in nodes}

    def column_of(node: Mapping[str, Any]) -> int:
        base = KIND_COLUMN.get(node["kind"], 0)
        if node["kind"] == "derived":
            return 1 + derived_depth(node["id"])
        if base >= 2:
            return base + max_derived
        return base

    col = {n["id"]: column_of(n) for n in nodes}
    # Close up empty columns (a case with no derived facts, say).
    used = sorted(set(col.values()))
    remap = {c: i for i, c in enumerate(used)}
    col = {k: remap[v] for k, v in col.items()}
    columns: list[list[str]] = [[] for _ in used]
    fixed = {n["id"]: n["order"] for n in nodes if n.get("order") is not None}
    for n in sorted(nodes, key=lambda n: n["id"]):
        columns[col[n["id"]]].append(n["id"])

    # Order within columns: barycentre of predecessors' positions, two sweeps.
    pos = {nid: float(i) for column in columns for i, nid in enumerate(column)}
    for _ in range(2):
        for column in columns[1:]:
            def key(nid: str) -> tuple[float, str]:
                # Nodes with a fixed order (hypotheses by rank) keep it.
                if nid in fixed:
                    return (float(fixed[nid]), nid)
                ps = [pos[p] for p in preds[nid]]
                return (sum(ps) / len(ps) if ps else pos[nid], nid)
            column.sort(key=key)
            for i, nid in enumerate(column):
                pos[nid] = float(i)

    by_id = {n["id"]: n for n in nodes}
    boxes: dict[str, dict[str, Any]] = {}
    heights = []
    for c, column in enumerate(columns):
        y = MARGIN + 22
        x = MARGIN + c * (NODE_WIDTH + COLUMN_GAP)
        for nid in column:
            node = by_id[nid]
            lines = textwrap.wrap(str(node["label"]), WRAP, break_long_words=True) or [""]
            lines = lines[:4]
            if node.get("sub"):
                lines.append(str(node["sub"]))
            h = PAD * 2 + LINE_HEIGHT * len(lines)
            boxes[nid] = {
                "id": nid, "kind": node["kind"], "x": x, "y": y, "w": NODE_WIDTH, "h": h,
                "lines": [{"text": t, "x": x + PAD, "y": y + PAD + LINE_HEIGHT * (i + 1) - 3,
                           "sub": bool(node.get("sub")) and i == len(lines) - 1}
                          for i, t in enumerate(lines)],
                "title": node.get("title") or node["label"],
                "css": node.get("css", ""),
            }
            y += h + ROW_GAP
        heights.append(y)
    drawn_edges = []
    for e in sorted(edges, key=lambda e: (e["source"], e["target"], e.get("rule", ""))):
        a, b = boxes[e["source"]], boxes[e["target"]]
        x1, y1 = a["x"] + a["w"], a["y"] + a["h"] / 2
        x2, y2 = b["x"], b["y"] + b["h"] / 2
        if x2 <= x1:  # same column (should not happen); loop around the right side
            x2 = b["x"] + b["w"]
        bend = max((x2 - x1) / 2, 30)
        drawn_edges.append({
            "d": f"M {x1:g},{y1:g} C {x1 + bend:g},{y1:g} {x2 - bend:g},{y2:g} {x2 - 2:g},{y2:g}",
            "sign": e.get("sign", ""), "rule": e.get("rule", ""),
            "title": f"{e.get('rule', '')}: {e['source']} -> {e['target']}",
        })
    width = MARGIN * 2 + len(columns) * NODE_WIDTH + max(len(columns) - 1, 0) * COLUMN_GAP
    height = max(heights, default=MARGIN) + MARGIN
    titles = []
    for c, column in enumerate(columns):
        kinds_here = {by_id[nid]["kind"] for nid in column}
        if kinds_here <= {"finding"}:
            title = COLUMN_TITLES[0]
        elif kinds_here <= {"derived"}:
            title = COLUMN_TITLES[1] if max_derived == 0 else f"{COLUMN_TITLES[1]} ({c})"
        elif kinds_here <= {"triage", "running"}:
            title = COLUMN_TITLES[3]
        elif kinds_here <= {"red_flag"} and "hypothesis" not in present_kinds:
            title = "Red flags"
        elif kinds_here <= {"hypothesis"} and "red_flag" not in present_kinds:
            title = "Hypotheses"
        else:
            title = COLUMN_TITLES[2]
        titles.append({"text": title, "x": MARGIN + c * (NODE_WIDTH + COLUMN_GAP), "y": MARGIN + 10})
    return {
        "width": width, "height": height,
        "nodes": [boxes[nid] for column in columns for nid in column],
        "edges": drawn_edges, "columns": titles,
    }


def body_map(regions: Iterable[str], origin: str | None, labels: Mapping[str, str],
             side: str | None = None) -> dict[str, Any]:
    """The body map of a case: figure outlines, every region (marked or not), the origin.

    Returns ``{"width", "height", "views": [{"name", "x", "outline": [d...]}],
    "regions": [{"id", "label", "on", "origin", "shapes": [{cx, cy, rx, ry}]}],
    "origin": {"id", "label", "cx", "cy"} or None, "marked": [labels]}``.
    Regions come in a fixed order, so the SVG is the same byte for byte.
    """
    marked = set(regions)
    views = [
        {"name": "front", "x": FRONT_X, "outline": figure_outline(FRONT_X)},
        {"name": "back", "x": BACK_X, "outline": figure_outline(BACK_X)},
    ]
    centres = {"front": FRONT_X, "back": BACK_X}
    items = []
    origin_mark = None
    for rid, shapes in REGION_SHAPES.items():
        drawn = [{"view": view, "cx": centres[view] + dx, "cy": cy, "rx": rx, "ry": ry}
                 for view, dx, cy, rx, ry in _on_side(shapes, side)]
        items.append({"id": rid, "label": labels.get(rid, rid.replace("_", " ")), "on": rid in marked,
                      "origin": rid == origin, "shapes": drawn})
        if rid == origin:
            first = drawn[0]
            origin_mark = {"id": rid, "label": labels.get(rid, rid), "cx": first["cx"], "cy": first["cy"]}
    # Unmarked regions first, so marked ones are drawn on top.
    order = {region: n for n, region in enumerate(REGION_SHAPES)}
    items.sort(key=lambda r: (r["on"], order[str(r["id"])]))
    width, height = BODYMAP_SIZE
    return {
        "width": width, "height": height, "views": views, "regions": items, "origin": origin_mark, "side": side,
        "marked": [labels.get(r, r) for r in REGION_SHAPES if r in marked],
        "caption": SIDE_CAPTIONS.get(side or "", SIDE_CAPTIONS[""]),
    }

