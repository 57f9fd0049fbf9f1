"""Small SVG charts for research reports: proportions with intervals, and heat maps.

Plain strings of SVG markup, with no script, style sheet, font or image from
outside: a report that holds them opens anywhere, offline. Every label is
escaped here (labels can be case ids, which come from outside).
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from hipkb.textsafe import html_text

FONT = 'font-family="sans-serif" font-size="12"'


def _text(value: object) -> str:
    return escape(html_text(str(value)), quote=True)


def _clip(label: str, width: int) -> str:
    return label if len(label) <= width else label[: width - 1] + "\u2026"


def interval_bars(rows: Sequence[tuple[str, float | None, float | None, float | None]], *, title: str,
                  label_width: int = 34) -> str:
    """One horizontal bar per row (a proportion in [0, 1]) with its interval as a whisker.

    *rows*: ``(label, value, low, high)``; a row without a value is drawn as
    "no cases". The axis runs from 0 to 100 %.
    """
    left, width, bar, gap = 8 + 7 * label_width, 360, 16, 8
    height = 40 + len(rows) * (bar + gap) + 24
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{left + width + 70}" height="{height}" '
           f'viewBox="0 0 {left + width + 70} {height}" {FONT}>',
           f'<title>{_text(title)}</title>',
           f'<text x="8" y="18" font-weight="bold">{_text(title)}</text>']
    for tick in range(0, 101, 25):
        x = left + width * tick / 100
        out.append(f'<line x1="{x:g}" y1="28" x2="{x:g}" y2="{height - 20}" stroke="#ddd"/>')
        out.append(f'<text x="{x:g}" y="{height - 6}" text-anchor="middle" fill="#555">{tick}%</text>')
    for index, (label, value, low, high) in enumerate(rows):
        y = 34 + index * (bar + gap)
        out.append(f'<text x="{left - 8}" y="{y + bar - 4}" text-anchor="end">{_text(_clip(label, label_width))}'
                   f'<title>{_text(label)}</title></text>')
        if value is None:
            out.append(f'<text x="{left + 4}" y="{y + bar - 4}" fill="#777">no cases</text>')
            continue
        out.append(f'<rect x="{left}" y="{y}" width="{width * value:.1f}" height="{bar}" fill="#4a7fb5">'
                   f'<title>{_text(label)}: {value:.0%}</title></rect>')
        if low is not None and high is not None:
            x1, x2, mid = left + width * low, left + width * high, y + bar / 2
            out.append(f'<line x1="{x1:.1f}" y1="{mid:g}" x2="{x2:.1f}" y2="{mid:g}" stroke="#222" '
                       'stroke-width="1.5"/>')
            for x in (x1, x2):
                out.append(f'<line x1="{x:.1f}" y1="{y + 3}" x2="{x:.1f}" y2="{y + bar - 3}" stroke="#222"/>')
        out.append(f'<text x="{left + width + 6}" y="{y + bar - 4}">{value:.0%}</text>')
    out.append("</svg>")
    return "\n".join(out)


def heat_map(rows: Sequence[str], columns: Sequence[str], values: Sequence[Sequence[float]], *, title: str,
             label_width: int = 30, cell: int = 22, show_values: bool = True) -> str:
    """A grid of *values* (rows by columns), darker for more, each cell titled with its row, column and value."""
    top_labels = min(max((len(c) for c in columns), default=0), label_width)
    left, top = 8 + 7 * label_width, 30 + int(6.2 * top_labels)
    width, height = left + cell * len(columns) + 10, top + cell * len(rows) + 10
    highest = max((v for row in values for v in row), default=0) or 1
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" {FONT}>',
           f'<title>{_text(title)}</title>',
           f'<text x="8" y="18" font-weight="bold">{_text(title)}</text>']
    for j, column in enumerate(columns):
        x = left + j * cell + cell / 2 + 4
        out.append(f'<text transform="translate({x:g},{top - 6}) rotate(-60)">{_text(_clip(column, label_width))}'
                   f'<title>{_text(column)}</title></text>')
    for i, row in enumerate(rows):
        y = top + i * cell
        out.append(f'<text x="{left - 6}" y="{y + cell - 5}" text-anchor="end">{_text(_clip(row, label_width))}'
                   f'<title>{_text(row)}</title></text>')
        for j, column in enumerate(columns):
            value = values[i][j]
            shade = value / highest
            fill = f"rgb({255 - int(200 * shade)},{255 - int(150 * shade)},{255 - int(60 * shade)})" \
                if value else "#f6f6f6"
            out.append(f'<rect x="{left + j * cell}" y="{y}" width="{cell - 1}" height="{cell - 1}" fill="{fill}">'
                       f'<title>{_text(row)} / {_text(column)}: {value:g}</title></rect>')
            if show_values and value:
                colour = "#fff" if shade > 0.6 else "#222"
                out.append(f'<text x="{left + j * cell + cell / 2 - 0.5:g}" y="{y + cell - 5}" text-anchor="middle" '
                           f'font-size="10" fill="{colour}">{value:g}</text>')
    out.append("</svg>")
    return "\n".join(out)


__all__ = ["heat_map", "interval_bars"]
