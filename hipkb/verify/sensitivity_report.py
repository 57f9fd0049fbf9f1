"""A sensitivity analysis (:mod:`hipkb.verify.sensitivity`) as text, JSON, Markdown or an SVG heat map."""

from __future__ import annotations

import json
from html import escape
from typing import Any

from hipkb.textsafe import report_text, terminal
from hipkb.verify import charts
from hipkb.verify.sensitivity import Report

FORMATS = ("text", "json", "md", "svg")


def render(report: Report, fmt: str, top: int = 20) -> str:
    if fmt == "json":
        return json.dumps(report.to_dict(), ensure_ascii=False) + "\n"
    if fmt == "svg":
        return to_svg(report) + "\n"
    return {"text": to_text, "md": to_markdown}[fmt](report, top)


def _moves(row: dict[str, Any]) -> str:
    parts = []
    for direction in ("up", "down"):
        move = row.get(direction)
        if move is None:
            continue
        what = ", ".join(f"{a} {move[a]}" for a in ("top", "triage", "running") if move[a]) or "nothing"
        parts.append(f"{row['value']:g}->{move['to']:g}: {what}")
    return "; ".join(parts)


def _heading(report: Report) -> str:
    kb = report.kb
    return (f"{kb['name']} {kb['version']}: every evidence weight and band threshold moved by {report.step:g} "
            f"each way ({len(report.variants)} variants) over {len(report.names)} case(s)")


def to_text(report: Report, top: int = 20) -> str:
    rules = report.rules
    fragile = [r for r in rules if r["changes"]]
    lines = [terminal(_heading(report)),
             f"{len(fragile)} of {len(rules)} weighted rules change an answer (top hypothesis, triage or running "
             "advice) in some case", ""]
    if fragile:
        lines.append("most fragile rules (answers changed, cases; what each move changes):")
        for rank, row in enumerate(fragile[:top], start=1):
            lines.append(f"  {rank:>2}. {row['id']} (weight {row['value']:g}): {row['changes']} answer(s) in "
                         f"{row['cases']} case(s); {_moves(row)}")
    lines.append("band thresholds:")
    for row in report.thresholds:
        lines.append(f"  {row['id']} ({row['value']:g}): {row['changes']} answer(s) in {row['cases']} case(s); "
                     f"{_moves(row)}")
    cases = report.cases
    if cases:
        lines += ["", "most fragile cases (answers changed by all moves; moves that change one):"]
        for row in cases[:top]:
            moves = ", ".join(m["variant"] for m in row["by"][:4]) + (" ..." if len(row["by"]) > 4 else "")
            lines.append(f"  {terminal(row['case'])}: {row['changes']} answer(s), {row['variants']} move(s): {moves}")
    if report.errors:
        lines += ["", f"not run: {len(report.errors)}"] + [f"  {terminal(e)}" for e in report.errors[:10]]
    return "\n".join(lines) + "\n"


def _md(text: object) -> str:
    value = " ".join(report_text(str(text)).split())
    return escape(value, quote=False).replace("|", "\\|").replace("_", "\\_").replace("*", "\\*")


def to_markdown(report: Report, top: int = 20) -> str:
    fragile = [r for r in report.rules if r["changes"]]
    out = [f"# Sensitivity of {_md(report.kb['name'])} {_md(report.kb['version'])}", "", _md(_heading(report)) + ".",
           "", "## Most fragile rules", "",
           "| rank | rule | file | weight | answers changed | cases | weight up | weight down |",
           "| ---: | --- | --- | ---: | ---: | ---: | --- | --- |"]
    for rank, row in enumerate(fragile[:top], start=1):
        cells = []
        for direction in ("up", "down"):
            move = row.get(direction)
            cells.append("-" if move is None else f"{move['to']:g}: " + (", ".join(
                f"{a} {move[a]}" for a in ("top", "triage", "running") if move[a]) or "nothing"))
        file = row["file"].rsplit("/", 1)[-1]
        out.append(f"| {rank} | {_md(row['id'])} | {_md(file)} | {row['value']:g} | {row['changes']} | "
                   f"{row['cases']} | {_md(cells[0])} | {_md(cells[1])} |")
    out += ["", "## Band thresholds", "", "| threshold | value | answers changed | cases | moves |",
            "| --- | ---: | ---: | ---: | --- |"]
    for row in report.thresholds:
        out.append(f"| {row['id']} | {row['value']:g} | {row['changes']} | {row['cases']} | {_md(_moves(row))} |")
    cases = report.cases
    if cases:
        out += ["", "## Most fragile cases", "", "| case | answers changed | moves | moves that change it |",
                "| --- | ---: | ---: | --- |"]
        for row in cases[:top]:
            moves = ", ".join(m["variant"] for m in row["by"][:6]) + (" ..." if len(row["by"]) > 6 else "")
            out.append(f"| {_md(row['case'])} | {row['changes']} | {row['variants']} | {_md(moves)} |")
    return "\n".join(out) + "\n"


def to_svg(report: Report) -> str:
    rows, columns, grid = report.matrix()
    if not rows or not columns:
        rows, columns, grid = ["(no rule)"], ["(no case changes)"], [[0]]
    return charts.heat_map(rows, columns, grid, title=f"Answers changed by moving each weight {report.step:g} "
                           "up and down (rules by cases)")


__all__ = ["FORMATS", "render", "to_markdown", "to_svg", "to_text"]
