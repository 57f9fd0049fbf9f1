"""The clinician's report in a real browser: printed to PDF by headless Chromium, and read on a phone.

Chromium prints the HTML report of an example case, with the exclusion
status the engine gives it (issue 19; a synthetic one where a test needs a
status the case does not have): page 1 holds the triage, the running advice, the top three hypotheses and the
alarm hypotheses not yet excluded, and no page holds a rule id or a field
path (the appendix prints folded). ``--format pdf`` (WeasyPrint) gives the
same first page. At 400 px wide no element of a report is wider than the
page. Debian's chromium and chromium-driver, as for the web app's test.
"""

from __future__ import annotations

import base64
import re

import pytest
from browser import FLAGS, browser_paths, page_texts, weasyprint_or_skip
from lanes import example_params
from reportcheck import engine_words

from hipkb import api
from hipkb.knowledge.resources import example_cases
from hipkb.report.pdf import html_to_pdf
from hipkb.report.render import render
from hipkb.report.words import brief
from hipkb.results.result import build_result

pytestmark = pytest.mark.slow

CASE = next(p for p in example_cases() if p.stem == "fnbsi-classic")
PHONE = 400


@pytest.fixture(scope="module")
def chrome(tmp_path_factory):
    chromium, driver_path = browser_paths()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium') / 'profile'}")
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def exclusions_for(result: dict) -> list[dict]:
    """A synthetic exclusion status: the top hypothesis suspected, one alarm not yet excluded, one excluded."""
    top = result["hypotheses"][0]
    return [
        {"id": top["id"], "label": top["label"], "status": "suspected", "because": [], "facts": [],
         "to_exclude": [{"fact": "imaging.mri_bsi_grade", "question": "Has an MRI graded a bone stress injury?"}]},
        {"id": "femoral_shaft_bsi", "label": "Femoral shaft bone stress injury", "status": "not_excluded",
         "because": [], "facts": ["pain.regions=groin"],
         "to_exclude": [{"fact": "exam.fulcrum", "question": "Is the fulcrum test painful?"},
                        {"fact": "exam.single_leg_hop", "question": "Is single-leg hopping painful?", "unsafe": True}]},
        {"id": "septic_arthritis", "label": "Septic arthritis of the hip", "status": "excluded", "because": [],
         "facts": [], "to_exclude": []},
    ]


def report_html(kb, reasoner, path, synthetic: bool = False, audience: str = "clinician") -> tuple[str, dict]:
    """The HTML report of a case as ``hipkb run --format html`` writes it (the result's own exclusion status),
    or with the synthetic status above."""
    inference = reasoner.infer(api.load_case(path, kb))
    result = build_result(kb, inference)
    if synthetic:
        result = {**result, "exclusions": exclusions_for(result)}
    return render(kb, inference, result, fmt="html", audience=audience), result


def chromium_pdf(driver, html_path) -> bytes:
    from selenium.webdriver.common.print_page_options import PrintOptions

    driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    driver.get(html_path.resolve().as_uri())
    options = PrintOptions()
    options.page_width, options.page_height = 21.0, 29.7  # A4, in centimetres
    options.background = True
    return base64.b64decode(driver.print_page(options))


MARGINS = re.compile(r"hipkb report: \S+|Assessed \d{4}-\d\d-\d\d|Date of assessment not recorded|"
                     r"Page \d+ of \d+|hipkb: decision support, not a diagnosis|(?<!\S)(\d\.|•)(?!\S)")


def words(page: str) -> list[str]:
    """A page's words without its margin boxes and list markers (laid out apart by each engine)."""
    return MARGINS.sub(" ", page).split()


def test_chromium_prints_the_assessment_alone_on_page_one(chrome, kb, reasoner, tmp_path):
    html, result = report_html(kb, reasoner, CASE)
    path = tmp_path / "report.html"
    path.write_text(html, encoding="utf-8")
    pages = page_texts(chromium_pdf(chrome, path))
    first = pages[0]
    assert "Triage: Urgent" in first and "See a clinician promptly" in first
    assert "Running: Stop running" in first
    for h in result["hypotheses"][:3]:
        assert h["label"] in first, h["label"]
    # The engine's own exclusion status: each alarm hypothesis suspected or not yet excluded, and how to exclude it.
    section = first[first.index("NOT YET EXCLUDED"):]
    open_items = [e for e in result["exclusions"] if e["status"] != "excluded"]
    assert open_items
    for item in open_items:
        status = {"suspected": "suspected", "not_excluded": "not yet excluded"}[item["status"]]
        assert f"{brief(item['label'])}: {status}" in section
        safe = [s["question"] for s in item["to_exclude"] if not s.get("unsafe")]
        assert all(brief(q) in section for q in safe[:3]), safe  # the first three; the evidence has them all
        assert not any(s["question"] in first for s in item["to_exclude"] if s.get("unsafe"))
    assert "Page 1 of" in first and "hipkb report: fnbsi-classic" in first
    assert "The evidence" not in first and "The evidence" in pages[1]
    # No rule id or field path anywhere on paper: the appendix prints folded.
    assert engine_words(" ".join(pages), kb) == []
    assert "Appendix: how hipkb reasoned (in the HTML report)" in " ".join(pages)
    # A synthetic status: a not-excluded alarm is listed with its safe question, never its loading test.
    html, result = report_html(kb, reasoner, CASE, synthetic=True)
    path.write_text(html, encoding="utf-8")
    first = page_texts(chromium_pdf(chrome, path))[0]
    section = first[first.index("NOT YET EXCLUDED"):]
    assert "Femoral shaft bone stress injury: not yet excluded" in section
    assert "Is the fulcrum test painful?" in section and "Septic arthritis" not in section
    assert "Is single-leg hopping painful?" not in first and "Not to test until excluded" in section


def test_format_pdf_gives_the_same_first_page_as_the_browser(chrome, kb, reasoner, tmp_path, cli):
    weasyprint_or_skip()
    html, _ = report_html(kb, reasoner, CASE)
    path = tmp_path / "report.html"
    path.write_text(html, encoding="utf-8")
    browser = page_texts(chromium_pdf(chrome, path))[0]
    out = tmp_path / "report.pdf"
    assert cli("run", CASE, "--format", "pdf", "-o", out).exit_code == 0
    assert cli("run", CASE, "--format", "html").stdout == html  # the PDF is of this very report
    weasy = page_texts(out.read_bytes())[0]
    assert words(weasy) == words(browser)
    # And with a synthetic exclusion status too.
    html, _ = report_html(kb, reasoner, CASE, synthetic=True)
    path.write_text(html, encoding="utf-8")
    assert words(page_texts(html_to_pdf(html))[0]) == words(page_texts(chromium_pdf(chrome, path))[0])


@pytest.mark.parametrize("path", example_params(example_cases()))
def test_the_assessment_fits_page_one_for_every_example(chrome, kb, reasoner, tmp_path, path):
    # On an A4 page when printed: page 1 ends with the next questions, the evidence starts on page 2.
    html, _ = report_html(kb, reasoner, path)
    page = tmp_path / "report.html"
    page.write_text(html, encoding="utf-8")
    pages = page_texts(chromium_pdf(chrome, page))
    assert "ASK OR EXAMINE NEXT" in pages[0], "page 1 ends before the next questions"
    assert "The evidence" not in pages[0] and "The evidence" in pages[1], "the evidence is not on page 2"


WIDE = """
const vw = document.documentElement.clientWidth, wide = [];
for (const e of document.querySelectorAll('body *')) {
  const r = e.getBoundingClientRect();
  if (r.width && (r.right > vw + 0.5 || r.left < -0.5)) {
    wide.push(`${e.tagName} ${e.id} ${e.getAttribute('class') || ''}`);
  }
}
return [vw, document.documentElement.scrollWidth, wide.slice(0, 10)];
"""


@pytest.mark.parametrize("path", example_params(example_cases(), always=[CASE]))
def test_at_400_px_no_element_of_a_report_is_wider_than_the_page(chrome, kb, reasoner, tmp_path, path):
    chrome.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": PHONE, "height": 900, "deviceScaleFactor": 1, "mobile": True})
    try:
        for audience in ("clinician", "educator") if path == CASE else ("clinician",):
            html, _ = report_html(kb, reasoner, path, audience=audience)
            page = tmp_path / f"{path.stem}-{audience}.html"
            page.write_text(html, encoding="utf-8")
            chrome.get(page.resolve().as_uri())
            chrome.execute_script("for (const d of document.querySelectorAll('details')) d.open = true;")
            width, scroll, wide = chrome.execute_script(WIDE)
            assert (width, scroll, wide) == (PHONE, PHONE, []), (path.stem, audience)
    finally:
        chrome.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
