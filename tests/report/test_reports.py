"""Narrative reports: content, order, determinism, escaping and the template sandbox.

Assertions on the shipped knowledge base read rule ids, labels and sources
from the result itself (the knowledge base keeps growing); the small sample
knowledge base (tests/samplekb.py) pins down red flags, evidence against and WHY NOT.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from lanes import example_params
from paths import ROOT
from samplekb import BONE_CASE, RED_FLAG_CASE, infer, write_sample_kb

from hipkb import api
from hipkb.knowledge.resources import example_cases, shipped
from hipkb.load.case import validate
from hipkb.report.render import ReportError, md_code, md_escape, mermaid_label, render

CASES = example_cases()
FORMATS = ("md", "html", "txt")
AUDIENCES = ("clinician", "educator")
XSS = "<script>alert(1)</script>"

@pytest.fixture(scope="session")
def sample_rules(tmp_path_factory) -> Path:
    return write_sample_kb(tmp_path_factory.mktemp("kb"))


@pytest.fixture(scope="session")
def sample_kb(sample_rules):
    return api.load_kb(sample_rules)


def report(kb, data: dict, fmt: str, audience: str = "clinician", templates: Path | None = None) -> str:
    inference, result = infer(kb, data)
    return render(kb, inference, result, fmt=fmt, audience=audience, templates=templates)


# -- every example case, every format, both audiences ----------------------

@pytest.mark.parametrize("case_path", example_params(CASES))
def test_every_example_renders_deterministically(reasoner, kb, case_path):
    case = api.load_case(case_path, kb)
    for fmt in FORMATS:
        for audience in AUDIENCES:
            first = api.report(reasoner, case, fmt, audience=audience)
            second = api.report(reasoner, case, fmt, audience=audience)
            assert first == second, (fmt, audience)
            assert first.endswith("\n") and not first.endswith("\n\n")
            assert case.case_id in first
            assert "not a diagnosis" in first


def test_same_bytes_in_another_process_with_another_hash_seed(reasoner, kb):
    # Dict and set order must not leak into a report: render in a fresh
    # interpreter with a different hash seed and compare byte for byte.
    path = CASES[0]
    here = api.report(reasoner, api.load_case(path, kb), "html", audience="educator").encode()
    code = ("import sys; from hipkb import api; kb = api.load_kb(); "
            f"sys.stdout.buffer.write(api.report(api.reasoner_for(kb), api.load_case({str(path)!r}, kb), "
            "'html', audience='educator').encode())")
    for seed in ("1", "4242"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, env=env, check=True).stdout
        assert out == here


# -- content: clinician ----------------------------------------------------

def _cases_with_hypotheses(kb, reasoner):
    found = []
    for path in CASES:
        case = api.load_case(path, kb)
        result = api.run_case(reasoner, case)
        if result["hypotheses"]:
            found.append((case, result))
    assert found, "no example case concludes any hypothesis"
    return found


@pytest.mark.parametrize("fmt", FORMATS)
def test_clinician_report_names_top_hypothesis_with_its_rules_and_sources(kb, reasoner, fmt):
    for case, result in _cases_with_hypotheses(kb, reasoner):
        text = api.report(reasoner, case, fmt)
        top = result["hypotheses"][0]
        if fmt == "html":
            import html as html_lib

            text = html_lib.unescape(text)
        if fmt == "md":
            text = text.replace("\\", "")
        if fmt == "txt":  # txt wraps long lines: a long label may span two
            text = " ".join(text.split())
        assert top["label"] in text
        for item in top["support"] + top["against"]:
            assert item["rule"] in text, (case.case_id, item["rule"])
            if fmt != "txt":  # txt wraps long lines; sources are checked in md and html
                assert item["source"] in text, (case.case_id, item["source"])
        # Ranked: every hypothesis appears in the differential, in the result's order (a label may
        # also appear earlier, where the triage says which hypothesis it follows).
        start = text.index({"md": "### Differential", "html": 'id="differential"', "txt": "Differential ---"}[fmt])
        positions = [text.index(h["label"], start) for h in result["hypotheses"]]
        assert positions == sorted(positions), case.case_id
        assert result["triage"]["level"] in text
        assert result["running"]["advice"] in text
        for q in result["next_questions"]:
            assert q["fact"] in text


def test_clinician_sections_in_order_and_without_the_educator_parts(kb, reasoner):
    case = api.load_case(CASES[0], kb)
    text = api.report(reasoner, case, "md")
    order = ["## Assessment", "## The evidence", "### Red flags", "### Triage and running advice", "### Differential",
             "### What to ask or examine next", "### The case", "### What the case did not say",
             "## Appendix: how hipkb reasoned", "### Reasoning graph", "### Rules fired, in order", "## References"]
    positions = [text.index(heading) for heading in order]
    assert positions == sorted(positions)
    assert "step by step" not in text and "### Why not" not in text
    html = api.report(reasoner, case, "html")
    for section in ("red-flags", "triage", "differential", "next-questions", "case", "unknown", "graph", "fired"):
        assert f'<section id="{section}">' in html
    assert html.index('<section id="assessment"') < html.index('<section id="evidence"') < html.index(
        '<details id="how-hipkb-reasoned" class="appendix">') < html.index('<section id="references"')
    assert '<section id="steps">' not in html and '<section id="why-not">' not in html


@pytest.mark.parametrize("fmt", FORMATS)
def test_red_flags_come_before_the_differential(sample_kb, fmt):
    inference, result = infer(sample_kb, RED_FLAG_CASE)
    assert [f["id"] for f in result["red_flags"]] == ["possible_cauda_equina", "night_pain"]
    assert result["hypotheses"], "the sample case should conclude hypotheses"
    text = render(sample_kb, inference, result, fmt=fmt)
    flag = text.index("Possible cauda equina syndrome")
    night = text.index("Pain at rest at night")
    differential = text.index("Differential\n---" if fmt == "txt" else "Differential")
    assert flag < night < differential  # emergency flags first
    assert text.index(result["hypotheses"][0]["label"], differential) > differential
    assert "emergency" in text.lower()
    for rule in result["red_flags"][0]["because"]:
        assert sample_kb.rule(rule).title in text[:differential]  # in words; the id is the appendix's
        assert rule in text[differential:]


def test_what_the_case_did_not_say_lists_unknown_findings_by_group(sample_kb):
    text = report(sample_kb, {"case_id": "tiny", "pain": {"regions": ["buttock"]}}, "md")
    section = text[text.index("### What the case did not say"):text.index("## Appendix")]
    unknown = len(sample_kb.vocabulary.fields) - 1
    assert f"{unknown} finding(s) are unknown" in section
    for group in sample_kb.vocabulary.groups.values():
        assert f"**{group.label}**" in section
    assert "pain regions" not in section  # it is known


def test_body_map_marks_the_case_regions_and_origin(sample_kb):
    html = report(sample_kb, {"case_id": "map", "pain": {"regions": ["groin", "buttock"], "origin": "buttock"}},
                  "html")
    svg = re.search(r'<svg class="bodymap".*?</svg>', html, re.S).group(0)
    marked = set(re.findall(r'data-region="([a-z_]+)">\s*<title>[^<]*\(painful\)', svg))
    assert marked == {"groin", "buttock"}
    assert svg.count('class="region on"') == 2  # groin and buttock are drawn once each
    assert 'class="origin-mark"' in svg and "Where it began: buttock" in svg
    ET.fromstring(svg)  # well-formed XML


def test_reasoning_graph_as_svg_and_mermaid(sample_kb):
    inference, result = infer(sample_kb, RED_FLAG_CASE)
    html = render(sample_kb, inference, result, fmt="html")
    svg = re.search(r'<svg class="graph".*?</svg>', html, re.S).group(0)
    ET.fromstring(svg)
    for label in [h["label"] for h in result["hypotheses"]] + ["Possible cauda equina syndrome"]:
        assert label in svg
    assert "Triage: emergency" in svg and "Running: stop" in svg
    md = render(sample_kb, inference, result, fmt="md")
    block = re.search(r"```mermaid\n(.*?)```", md, re.S).group(1)
    assert block.startswith("flowchart LR")
    defined = set(re.findall(r"^  (n\d+)[\[\(\{]", block, re.M))
    edges = re.findall(r"^  (n\d+) -(?:->|\.->)\|([A-Z0-9-]+)\| (n\d+)$", block, re.M)
    assert edges and all(a in defined and b in defined for a, _, b in edges)
    rules = {rule for _, rule, _ in edges}
    assert {"LOAD-BONE", "FN-BONE", "RF-CES", "TRIAGE-CES"} <= rules
    assert any(line.strip().startswith("n") and "-.->" in line for line in block.splitlines()) is (
        any(h["against"] for h in result["hypotheses"]))


# -- content: educator -----------------------------------------------------

@pytest.mark.parametrize("fmt", FORMATS)
def test_educator_report_has_every_firing_derived_facts_and_why_not(sample_kb, fmt):
    data = {**BONE_CASE, "behaviour": {**BONE_CASE["behaviour"], "hopping": "pain_free"}}
    inference, result = infer(sample_kb, data)
    text = render(sample_kb, inference, result, fmt=fmt, audience="educator")
    steps = text[text.lower().index("step by step"):]
    positions = [steps.index(f["rule"]) for f in result["fired"]]
    assert positions == sorted(positions)  # in firing order
    assert "load_response=bone" in text
    concluded = {h["id"] for h in result["hypotheses"]}
    why_not = text[text.lower().index("why not"):]
    for hid, hyp in sample_kb.hypotheses.items():
        if hid not in concluded:
            assert hyp.label in why_not
    # Gluteus medius: lateral hip pain is what it lacked, bone-type pain counted against it.
    assert "GM-LATERAL" in why_not and "GM-AGAINST-BONE" in why_not
    # Lumbar: numbness is unknown, and its rule waits on it.
    assert "neuro.numbness" in why_not
    # FN-HOP-FREE counted against the top hypothesis, in the differential.
    assert "FN-HOP-FREE" in text[:text.lower().index("step by step")]


def test_educator_html_every_fired_rule_and_clinician_lacks_them(kb, reasoner):
    case = api.load_case(CASES[0], kb)
    result = api.run_case(reasoner, case)
    html = api.report(reasoner, case, "html", audience="educator")
    steps = html[html.index('<section id="steps">'):html.index('<section id="derived">')]
    assert steps.count("<li ") == len(result["fired"])
    for d in result["derived"]:
        assert d["fact"] in html


# -- escaping ----------------------------------------------------------------

def test_case_id_with_markup_is_text_in_html_and_svg(sample_kb):
    html = report(sample_kb, {**BONE_CASE, "case_id": XSS}, "html", audience="educator")
    assert "<script" not in html.lower()
    escaped = "&lt;script&gt;alert(1)&lt;/script&gt;"
    assert f"<title>hipkb report: {escaped}</title>" in html
    assert f'<span class="case-id">{escaped}</span>' in html
    for svg in re.findall(r"<svg.*?</svg>", html, re.S):
        assert escaped in svg
        ET.fromstring(svg)
    # Rule titles and sources with markup are escaped too.
    assert "<em>" not in html and "&lt;em&gt;with&lt;/em&gt;" in html
    assert "<b>FN</b>" not in html and "&lt;b&gt;FN&lt;/b&gt;" in html


def test_case_id_with_markup_is_text_in_markdown_and_txt(sample_kb):
    md = report(sample_kb, {**BONE_CASE, "case_id": XSS + "\n# heading \x1b[31m"}, "md", audience="educator")
    assert "<script>" not in md and "\\<script\\>" in md
    assert "\x1b" not in md and "\n# heading" not in md
    txt = report(sample_kb, {**BONE_CASE, "case_id": "evil\x1b[2J\x07id"}, "txt")
    assert "\x1b" not in txt and "\x07" not in txt and "evil[2Jid" in txt


def test_markdown_filters():
    assert md_escape("*a* _b_ [c](d) <e> | `f` #g") == "\\*a\\* \\_b\\_ \\[c\\](d) \\<e\\> \\| \\`f\\` \\#g"
    assert md_escape("femoral_neck_bsi") == "femoral_neck_bsi"
    assert md_code("a`b") == "``a`b``" and md_code("`x") == "`` `x ``"
    assert mermaid_label('say "hi" <b>#1</b>') == "say #quot;hi#quot; #lt;b#gt;#35;1#lt;/b#gt;"


# -- the sandbox and --templates ---------------------------------------------

ESCAPES = {
    "subclasses": "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "globals": "{{ render.__globals__ }}",
    "format": "{{ '{0.__class__}'.format(case_id) }}",
    "huge": "{{ 'x' * 100000000 }}",
}


@pytest.mark.parametrize("name", ESCAPES)
def test_custom_template_cannot_reach_python_internals(tmp_path, cli, name):
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "report.html.j2").write_text(f"<p>{ESCAPES[name]}</p>\n", encoding="utf-8")
    result = cli("run", CASES[0], "--format", "html", "--templates", templates)
    assert result.exit_code == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr
    assert "report.html.j2" in lines[0]
    assert "object at 0x" not in lines[0] and "subclasses" not in result.stdout


def test_custom_template_errors_are_one_line(tmp_path, cli):
    templates = tmp_path / "t"
    templates.mkdir()
    (templates / "report.md.j2").write_text("line one\n{% for x in %}\n", encoding="utf-8")
    (templates / "report.txt.j2").write_text("{{ no_such_name }}\n", encoding="utf-8")
    (templates / "educator.html.j2").write_text("{{ 1 / 0 }}\n", encoding="utf-8")
    for fmt, audience, needle in (("md", "clinician", "line 2"), ("txt", "clinician", "no_such_name"),
                                  ("html", "educator", "ZeroDivisionError")):
        result = cli("run", CASES[0], "--format", fmt, "--audience", audience, "--templates", templates)
        assert result.exit_code == 2, (fmt, result.output)
        assert len(result.stderr.strip().splitlines()) == 1
        assert needle in result.stderr and "Traceback" not in result.stderr


def test_custom_templates_override_one_format_and_keep_the_rest(tmp_path, reasoner, kb):
    templates = tmp_path / "mine"
    templates.mkdir()
    (templates / "report.txt.j2").write_text(
        "CASE {{ case_id }} TRIAGE {{ triage.level }}{% if top %} TOP {{ top.id }}{% endif %}\n", encoding="utf-8")
    case = api.load_case(CASES[0], kb)
    result = api.run_case(reasoner, case)
    text = api.report(reasoner, case, "txt", templates=templates)
    expected = f"CASE {case.case_id} TRIAGE {result['triage']['level']}"
    if result["hypotheses"]:
        expected += f" TOP {result['hypotheses'][0]['id']}"
    assert text == expected + "\n"
    # md is not overridden: the shipped template renders it.
    assert api.report(reasoner, case, "md", templates=templates) == api.report(reasoner, case, "md")


def test_missing_template_and_bad_format_are_report_errors(tmp_path, sample_kb):
    inference, result = infer(sample_kb, BONE_CASE)
    with pytest.raises(ReportError, match="unknown report format"):
        render(sample_kb, inference, result, fmt="pdf")
    with pytest.raises(ReportError, match="unknown audience"):
        render(sample_kb, inference, result, fmt="md", audience="patient")
    with pytest.raises(ReportError, match="no such templates directory"):
        render(sample_kb, inference, result, fmt="md", templates=tmp_path / "nope")


def test_shipped_templates_are_found_where_setup_cfg_ships_them():
    reports = shipped("reports")
    names = {p.name for p in reports.iterdir()}
    assert {"report.md.j2", "report.html.j2", "report.txt.j2", "report.css"} <= names
    setup = (ROOT / "setup.cfg").read_text(encoding="utf-8")
    line = next(x for x in setup.splitlines() if x.startswith("hipkb.reports ="))
    patterns = [p.strip() for p in line.split("=", 1)[1].split(",")]
    for name in names:
        assert any(Path(name).match(p) for p in patterns), f"{name} would not be shipped in the wheel"


# -- the CLI and output files --------------------------------------------------

def test_run_writes_a_report_file(tmp_path, cli):
    out = tmp_path / "report.html"
    result = cli("run", CASES[0], "--format", "html", "--audience", "educator", "-o", out)
    assert result.exit_code == 0, result.output
    printed = cli("run", CASES[0], "--format", "html", "--audience", "educator")
    assert out.read_text(encoding="utf-8") == printed.stdout
    assert printed.stdout.startswith("<!DOCTYPE html>")


def test_run_writes_one_report_per_case_into_a_directory(tmp_path, cli):
    out = tmp_path / "out"
    out.mkdir()
    result = cli("run", *CASES[:3], "--format", "md", "-o", out)
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == sorted(f"{p.stem}.md" for p in CASES[:3])


def test_html_is_self_contained():
    kb = api.load_kb()
    case = api.load_case(CASES[0], kb)
    html = api.report(api.reasoner_for(kb), case, "html", audience="educator")
    assert "<script" not in html and "<link" not in html and "@import" not in html
    assert not re.search(r"(src|href)=\"(https?:)?//", html)
    assert "@media print" in html


def test_body_map_draws_the_side_that_hurts(kb, reasoner):
    from hipkb.report.svg import body_map

    def lit(side):
        drawn = body_map(["groin", "lower_back"], None, {}, side)
        return {r["id"]: sorted(s["cx"] for s in r["shapes"]) for r in drawn["regions"] if r["on"]}

    right, left, both = lit(None), lit("left"), lit("both")
    assert left["groin"] != right["groin"] and left["lower_back"] == right["lower_back"]  # the midline stays
    assert both["groin"] == sorted(right["groin"] + left["groin"])
    case = api.load_case(CASES[0], kb)
    data = {**case.to_data(), "pain": {**case.to_data()["pain"], "side": "left"}}

    html = api.report(reasoner, validate(data, kb.vocabulary, "side", hypotheses=kb.hypotheses), "html")
    assert "(left side)</title>" in html
