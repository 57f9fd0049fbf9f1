"""``--format pdf``: the HTML report laid out by WeasyPrint (the ``pdf`` extra), read back with pypdf."""

from __future__ import annotations

import io
import sys
from pathlib import Path

from browser import page_texts, weasyprint_or_skip

from hipkb import api
from hipkb.knowledge.resources import example_cases

CASE = next(p for p in example_cases() if p.stem == "fnbsi-classic")


def test_format_pdf_writes_a_valid_deterministic_pdf_with_the_assessment_on_page_one(cli, tmp_path, kb, reasoner):
    weasyprint_or_skip()
    out = tmp_path / "report.pdf"
    result = cli("run", CASE, "--format", "pdf", "-o", out)
    assert result.exit_code == 0, result.output
    data = out.read_bytes()
    assert data.startswith(b"%PDF-") and data.rstrip().endswith(b"%%EOF")
    pages = page_texts(data)
    assert len(pages) >= 2
    res = api.run_case(reasoner, api.load_case(CASE, kb))
    first = pages[0]
    for text in ("Assessment", "Triage: Urgent", "Running: Stop running", "Page 1 of", "hipkb report: fnbsi-classic"):
        assert text in first, text
    for h in res["hypotheses"][:3]:
        assert " ".join(h["label"].split()) in first
    assert "The evidence" not in first and "The evidence" in " ".join(pages[1:])
    # The same case gives the same bytes, and the same bytes on stdout.
    again = cli("run", CASE, "--format", "pdf")
    assert again.exit_code == 0 and again.stdout_bytes == data
    from pypdf import PdfReader

    assert PdfReader(io.BytesIO(data)).metadata["/Title"] == "hipkb report: fnbsi-classic"


def test_several_cases_need_a_directory_which_is_created(cli, tmp_path):
    weasyprint_or_skip()
    cases = example_cases()[:2]
    refused = cli("run", *cases, "--format", "pdf")
    assert refused.exit_code == 2 and "with several cases, give -o DIR" in refused.stderr
    out = tmp_path / "new" / "pdfs"
    made = cli("run", *cases, "--format", "pdf", "-o", out)
    assert made.exit_code == 0, made.output
    assert sorted(p.name for p in out.iterdir()) == sorted(f"{p.stem}.pdf" for p in cases)
    assert all(p.read_bytes().startswith(b"%PDF-") for p in out.iterdir())


def test_without_weasyprint_pdf_is_one_line_saying_what_to_install(cli, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "weasyprint", None)  # import weasyprint raises ImportError
    out = tmp_path / "report.pdf"
    result = cli("run", CASE, "--format", "pdf", "-o", out)
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert lines == ["hipkb: pdf: --format pdf needs WeasyPrint: pip install 'hipkb[pdf]' "
                     "(and Pango: apt-get install libpango-1.0-0 libpangoft2-1.0-0)"]
    assert not out.exists() and not list(tmp_path.iterdir())
    # The other formats do not need it.
    assert cli("run", CASE, "--format", "html").exit_code == 0


def test_the_web_api_serves_the_pdf_or_says_what_to_install(kb, monkeypatch):
    from fastapi.testclient import TestClient

    from hipkb.web.app import create_app

    client = TestClient(create_app(kb))
    body = Path(CASE).read_bytes()
    headers = {"Content-Type": "application/yaml"}
    monkeypatch.setitem(sys.modules, "weasyprint", None)
    missing = client.post("/api/v1/run?format=pdf", content=body, headers=headers)
    assert missing.status_code == 501 and "pip install 'hipkb[pdf]'" in missing.json()["error"]
    monkeypatch.delitem(sys.modules, "weasyprint")
    weasyprint_or_skip()
    answer = client.post("/api/v1/run?format=pdf&name=fnbsi-classic.yaml", content=body, headers=headers)
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/pdf"
    assert answer.content.startswith(b"%PDF-") and "Triage: Urgent" in page_texts(answer.content)[0]
