"""An evaluation (:mod:`hipkb.verify.evaluate`) as text, JSON, Markdown, or an HTML page with SVG charts.

Case names, ids and expectations come from outside: text escapes them for
the terminal, Markdown and HTML for markup (the HTML page holds no script and
loads nothing). Every format lists each failed case on one line: what was
expected and what came out.
"""

from __future__ import annotations

import json
from html import escape

from hipkb.knowledge.scales import BANDS
from hipkb.textsafe import html_text, report_text, terminal
from hipkb.verify import charts
from hipkb.verify.evaluate import TALLY_LABELS, Evaluation, Metric

FORMATS = ("text", "json", "md", "html")


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x:.0%}"


def _interval(m: Metric) -> str:
    if m.low is None or m.high is None:
        return "-"
    return f"{m.low:.0%} to {m.high:.0%}"


def _figure(m: Metric) -> str:
    """``32/33 (97%, 95% CI 89% to 100%)``."""
    if not m.n:
        return "no cases"
    return f"{m.k}/{m.n} ({_pct(m.value)}, 95% CI {_interval(m)})"


def _shown_tallies(ev: Evaluation) -> list[tuple[str, Metric]]:
    return [(key, m) for key, m in ev.tallies.items() if m.n]


def render(ev: Evaluation, fmt: str, name: str) -> str:
    """The evaluation in *fmt* (text, json, md or html); *name* names the case set."""
    if fmt == "json":
        return json.dumps({**ev.to_dict(), "name": name}, ensure_ascii=False) + "\n"
    return {"text": to_text, "md": to_markdown, "html": to_html}[fmt](ev, name)


# -- text -------------------------------------------------------------------------

def to_text(ev: Evaluation, name: str) -> str:
    lines = [f"{terminal(name)}: {len(ev.cases)} labelled case(s), {len(ev.failed)} failed, "
             f"{len(ev.errors)} error(s); knowledge base {terminal(ev.kb['name'])} {terminal(ev.kb['version'])} "
             f"({ev.kb['rules']} rules)",
             f"95% intervals: bootstrap over the cases, {ev.resamples} resamples, seed {ev.seed}", ""]
    for key, m in _shown_tallies(ev):
        extra = f"; over-triage {m.n - m.k}/{m.n}" if key == "specific" else ""
        lines.append(f"  {TALLY_LABELS[key]:<27} {_figure(m)}{extra}")
    if ev.hypotheses:
        lines += ["", "per hypothesis, where the truth is one (sensitivity; positive predictive value):"]
        width = max(len(h) for h in ev.hypotheses)
        for hid, ms in ev.hypotheses.items():
            lines.append(f"  {hid:<{width}}  {_figure(ms['sensitivity'])};  {_figure(ms['ppv'])}")
    lines += ["", "calibration (of the hypotheses ranked in each band, how many are the truth):"]
    lines += [f"  {band:<9} {_figure(ev.calibration[band])}" for band in BANDS]
    lines.append("  the truth itself lies: " + ", ".join(f"{band} {n}" for band, n in ev.truth_band.items()))
    if ev.confusion:
        lines += ["", "confusion (truth: first-ranked n, ...):"]
        for truth, row in ev.confusion.items():
            lines.append(f"  {truth}: " + ", ".join(f"{p} {n}" for p, n in sorted(row.items(), key=lambda i: -i[1])))
    if ev.unlabelled:
        lines += ["", f"not scored (no expectations): {len(ev.unlabelled)} case file(s)"]
    if ev.failed:
        lines += ["", f"failed ({len(ev.failed)}):"]
        lines += [f"  {terminal(c.line())}" for c in ev.failed]
    lines += ["", terminal(ev.summary_line(name))]
    return "\n".join(lines) + "\n"


# -- Markdown ---------------------------------------------------------------------

def _md(text: object) -> str:
    """Case text for a Markdown table cell or line: no controls, no markup, no line break, pipes escaped."""
    value = " ".join(report_text(str(text)).split())
    return escape(value, quote=False).replace("|", "\\|").replace("`", "\\`").replace("*", "\\*") \
        .replace("_", "\\_").replace("[", "\\[").replace("]", "\\]")


def to_markdown(ev: Evaluation, name: str) -> str:
    out = [f"# Evaluation of {_md(ev.kb['name'])} {_md(ev.kb['version'])} on {_md(name)}", "",
           f"{len(ev.cases)} labelled case(s), {len(ev.failed)} failed, {len(ev.errors)} error(s); "
           f"95 % intervals from a bootstrap over the cases ({ev.resamples} resamples, seed {ev.seed}).", "",
           "| metric | k/n | value | 95 % CI |", "| --- | ---: | ---: | --- |"]
    for key, m in _shown_tallies(ev):
        out.append(f"| {TALLY_LABELS[key]} | {m.k}/{m.n} | {_pct(m.value)} | {_interval(m)} |")
    specific = ev.tallies["specific"]
    if specific.n:
        out.append(f"| over-triage | {specific.n - specific.k}/{specific.n} | "
                   f"{_pct((specific.n - specific.k) / specific.n)} | |")
    if ev.hypotheses:
        out += ["", "## Per hypothesis", "",
                "| hypothesis | sensitivity | 95 % CI | positive predictive value | 95 % CI |",
                "| --- | ---: | --- | ---: | --- |"]
        for hid, ms in ev.hypotheses.items():
            s, p = ms["sensitivity"], ms["ppv"]
            out.append(f"| {_md(hid)} | {s.k}/{s.n} {_pct(s.value)} | {_interval(s)} | "
                       f"{p.k}/{p.n} {_pct(p.value)} | {_interval(p)} |")
    out += ["", "## Calibration of the bands", "",
            "| band | ranked in it | the truth | share | 95 % CI |", "| --- | ---: | ---: | ---: | --- |"]
    for band in BANDS:
        m = ev.calibration[band]
        out.append(f"| {band} | {m.n} | {m.k} | {_pct(m.value)} | {_interval(m)} |")
    out += ["", "Where the truth lies: " + ", ".join(f"{band} {n}" for band, n in ev.truth_band.items()) + "."]
    if ev.confusion:
        columns = sorted({p for row in ev.confusion.values() for p in row})
        out += ["", "## Confusion (rows: truth; columns: ranked first)", "",
                "| truth | " + " | ".join(_md(c) for c in columns) + " |",
                "| --- |" + " ---: |" * len(columns)]
        for truth, row in ev.confusion.items():
            out.append(f"| {_md(truth)} | " + " | ".join(str(row.get(c, "")) for c in columns) + " |")
    if ev.failed:
        out += ["", f"## Failed cases ({len(ev.failed)})", ""]
        out += [f"- {_md(c.line())}" for c in ev.failed]
    out += ["", _md(ev.summary_line(name))]
    return "\n".join(out) + "\n"


# -- HTML -------------------------------------------------------------------------

def _h(text: object) -> str:
    return escape(html_text(str(text)), quote=True)


STYLE = """body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:3px 8px;text-align:left}
td.n{text-align:right}.fail{font-family:monospace;white-space:pre-wrap}svg{display:block;margin:1em 0}"""


def to_html(ev: Evaluation, name: str) -> str:
    tallies = _shown_tallies(ev)
    rows = "".join(f"<tr><td>{_h(TALLY_LABELS[k])}</td><td class=n>{m.k}/{m.n}</td><td class=n>{_pct(m.value)}</td>"
                   f"<td>{_interval(m)}</td></tr>" for k, m in tallies)
    parts = [
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; style-src \'unsafe-inline\'">',
        f"<title>Evaluation of {_h(ev.kb['name'])} on {_h(name)}</title><style>{STYLE}</style></head><body>",
        f"<h1>Evaluation of {_h(ev.kb['name'])} {_h(ev.kb['version'])} on {_h(name)}</h1>",
        f"<p>{len(ev.cases)} labelled case(s), {len(ev.failed)} failed, {len(ev.errors)} error(s). 95&nbsp;% "
        f"intervals from a bootstrap over the cases ({ev.resamples} resamples, seed {ev.seed}).</p>",
        f"<table><tr><th>metric</th><th>k/n</th><th>value</th><th>95&nbsp;% CI</th></tr>{rows}</table>",
        charts.interval_bars([(TALLY_LABELS[k], m.value, m.low, m.high) for k, m in tallies], title="Expectations"),
    ]
    if ev.hypotheses:
        body = "".join(
            f"<tr><td>{_h(h)}</td><td class=n>{ms['sensitivity'].k}/{ms['sensitivity'].n}</td>"
            f"<td class=n>{_pct(ms['sensitivity'].value)}</td><td>{_interval(ms['sensitivity'])}</td>"
            f"<td class=n>{ms['ppv'].k}/{ms['ppv'].n}</td><td class=n>{_pct(ms['ppv'].value)}</td>"
            f"<td>{_interval(ms['ppv'])}</td></tr>" for h, ms in ev.hypotheses.items())
        parts += ["<h2>Per hypothesis</h2>",
                  "<table><tr><th>hypothesis</th><th colspan=3>sensitivity</th>"
                  f"<th colspan=3>positive predictive value</th></tr>{body}</table>",
                  charts.interval_bars([(h, ms["sensitivity"].value, ms["sensitivity"].low, ms["sensitivity"].high)
                                        for h, ms in ev.hypotheses.items()], title="Sensitivity"),
                  charts.interval_bars([(h, ms["ppv"].value, ms["ppv"].low, ms["ppv"].high)
                                        for h, ms in ev.hypotheses.items()], title="Positive predictive value")]
    parts += ["<h2>Calibration of the bands</h2>",
              "<p>Of the hypotheses ranked in each band, how many are the truth; where the truth itself lies: "
              + ", ".join(f"{_h(band)} {n}" for band, n in ev.truth_band.items()) + ".</p>",
              charts.interval_bars([(f"{band} ({ev.calibration[band].n} ranked)", ev.calibration[band].value,
                                     ev.calibration[band].low, ev.calibration[band].high) for band in BANDS],
                                   title="The truth, by band")]
    if ev.confusion:
        columns = sorted({p for row in ev.confusion.values() for p in row})
        truths = list(ev.confusion)
        parts += ["<h2>Confusion</h2><p>Rows: the truth; columns: the hypothesis ranked first.</p>",
                  charts.heat_map(truths, columns, [[ev.confusion[t].get(c, 0) for c in columns] for t in truths],
                                  title="Truth against first-ranked")]
    if ev.failed:
        parts += [f"<h2>Failed cases ({len(ev.failed)})</h2><ul>"]
        parts += [f'<li class="fail">{_h(c.line())}</li>' for c in ev.failed]
        parts += ["</ul>"]
    parts += [f"<p><code>{_h(ev.summary_line(name))}</code></p>", "</body></html>"]
    return "\n".join(parts) + "\n"


__all__ = ["FORMATS", "render", "to_html", "to_markdown", "to_text"]
